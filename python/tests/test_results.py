"""The pure parsing of the CLI's --json output: every outcome, every malformed answer."""

from __future__ import annotations

import json

import pytest

from notsotuf_client import (
    ClientOutputError,
    CommandError,
    DataError,
    HandedOver,
    InstallError,
    Installed,
    LastHandover,
    NoUpdate,
    NotsotufError,
    TransportError,
    UpdateAvailable,
    Updated,
    UsageError,
)
from notsotuf_client._results import (
    parse_check,
    parse_handover,
    parse_install,
    parse_json_object,
    parse_update,
    raise_for_error,
)


def obj(text: str) -> dict:  # type: ignore[type-arg]
    return dict(parse_json_object(text, exit_code=0, stderr="", command="check"))


def test_check_none() -> None:
    result = parse_check(obj('{"status":"none","currentVersion":"1.0.0"}'))
    assert result == NoUpdate("1.0.0")
    assert result.available is False


def test_check_available_by_patches() -> None:
    text = json.dumps(
        {
            "status": "available",
            "currentVersion": "1.0.0",
            "version": "1.2.0",
            "kind": "patches",
            "downloadBytes": 1234,
            "files": ["demo-1.1.0.patch", "demo-1.2.0.patch"],
            "required": False,
            "user": {"notes": "faster"},
        }
    )
    result = parse_check(obj(text), exit_code=10)
    assert isinstance(result, UpdateAvailable)
    assert result.available is True
    assert (result.version, result.kind, result.download_bytes) == ("1.2.0", "patches", 1234)
    assert result.files == ("demo-1.1.0.patch", "demo-1.2.0.patch")
    assert result.user == {"notes": "faster"}
    assert result.current_version == "1.0.0"


def test_check_available_full_archive_without_current_version() -> None:
    # currentVersion is optional in update.json: the client may identify the install itself.
    result = parse_check(obj('{"status":"available","version":"2.0.0","kind":"full","downloadBytes":9,"required":true}'))
    assert isinstance(result, UpdateAvailable)
    assert (result.kind, result.required, result.current_version) == ("full", True, None)


@pytest.mark.parametrize(
    "text, why",
    [
        ('{"status":"maybe"}', "status 'maybe'"),
        ('{"status":"available","kind":"patches","downloadBytes":1}', "no version"),
        ('{"status":"available","version":"2","kind":"bsdiff","downloadBytes":1}', "kind 'bsdiff'"),
        ('{"status":"available","version":"2","kind":"full","downloadBytes":"1"}', "downloadBytes"),
        ('{"status":"available","version":"2","kind":"full","downloadBytes":true}', "downloadBytes"),
        ('{"status":"available","version":"2","kind":"full","downloadBytes":-1}', "downloadBytes"),
    ],
)
def test_check_answers_that_are_not_understood_are_refused(text: str, why: str) -> None:
    with pytest.raises(ClientOutputError) as info:
        parse_check(obj(text), exit_code=10)
    assert why in info.value.message
    assert info.value.code == "CLIENT_BAD_OUTPUT"


@pytest.mark.parametrize(
    "stdout",
    ["", "   \n", "hello world\n", "[1, 2]", '"a string"', "{not json", "Usage: something else\n"],
)
def test_output_that_is_not_a_json_object_is_a_clear_error(stdout: str) -> None:
    with pytest.raises(ClientOutputError) as info:
        parse_json_object(stdout, exit_code=1, stderr="boom happened", command="check")
    error = info.value
    assert "not a JSON object" in error.message
    assert "boom happened" in error.message  # stderr is in the message, for a log
    assert "exit code 1" in error.message
    assert error.stdout == stdout and error.exit_code == 1
    assert isinstance(error, NotsotufError)


def test_a_stray_line_before_the_object_is_tolerated() -> None:
    value = parse_json_object('(node:1) Warning: x\n{"status":"none"}\n', exit_code=0, stderr="", command="check")
    assert value == {"status": "none"}


@pytest.mark.parametrize(
    "name, cls",
    [
        ("UsageError", UsageError),
        ("DataError", DataError),
        ("TransportError", TransportError),
        ("InstallError", InstallError),
        ("SomethingNew", CommandError),
    ],
)
def test_error_objects_become_exceptions_with_code_name_and_message(name: str, cls: type) -> None:
    value = obj(json.dumps({"status": "error", "error": {"name": name, "code": "THE_CODE", "message": "what to do"}}))
    with pytest.raises(CommandError) as info:
        raise_for_error(value, exit_code=2, stderr="error: what to do\n", command="update")
    error = info.value
    assert type(error) is cls
    assert (error.code, error.name, error.message) == ("THE_CODE", name, "what to do")
    assert (error.exit_code, error.command) == (2, "update")
    assert error.stderr == "error: what to do\n"
    assert str(error) == "what to do [THE_CODE]"


def test_an_error_object_without_details_still_raises() -> None:
    with pytest.raises(CommandError) as info:
        raise_for_error({"status": "error", "error": {}}, exit_code=1, stderr="", command="check")
    assert info.value.code == "UNKNOWN"
    assert "notsotuf check failed" in info.value.message
    with pytest.raises(ClientOutputError):
        raise_for_error({"status": "error", "error": "text"}, exit_code=1, stderr="", command="check")


def test_a_failure_exit_code_without_an_error_object_raises() -> None:
    with pytest.raises(CommandError) as info:
        raise_for_error({"status": "none"}, exit_code=1, stderr="it broke", command="check")
    assert info.value.code == "CLIENT_FAILED"
    assert "it broke" in info.value.message
    for ok in (0, 10, 11):
        raise_for_error({"status": "none"}, exit_code=ok, stderr="", command="check")


def test_check_reports_the_last_hand_over() -> None:
    text = json.dumps(
        {
            "status": "none",
            "currentVersion": "3.0.0",
            "lastHandover": {
                "outcome": "rolled-back",
                "version": "4.0.0",
                "previousVersion": "3.0.0",
                "reason": "exited before confirming",
            },
        }
    )
    result = parse_check(obj(text))
    assert result.last_handover == LastHandover("rolled-back", "4.0.0", "3.0.0", "exited before confirming")
    assert parse_check(obj('{"status":"none","lastHandover":"odd"}')).last_handover is None


def test_install_results() -> None:
    text = '{"status":"installed","version":"1.0.0","installDir":"/opt/app","downloadBytes":99}'
    assert parse_install(obj(text)) == Installed("1.0.0", "/opt/app", 99, False)
    again = parse_install({"status": "already-installed", "version": "1.0.0", "installDir": "/opt/app"})
    assert again.already_installed is True and again.version == "1.0.0"
    with pytest.raises(ClientOutputError):
        parse_install({"status": "installed"})
    with pytest.raises(ClientOutputError):
        parse_install({"status": "none", "currentVersion": "1.0.0"})


def test_update_results() -> None:
    result = parse_update(
        {
            "status": "updated",
            "previousVersion": "1.0.0",
            "version": "1.1.0",
            "via": "patches",
            "fellBack": False,
            "downloadBytes": 77,
        },
        exit_code=11,
    )
    assert result == Updated("1.1.0", "1.0.0", "patches", False, 77)
    assert parse_update({"status": "none", "currentVersion": "1.1.0"}) == NoUpdate("1.1.0")


def test_handover_results() -> None:
    text = json.dumps(
        {
            "status": "handed-over",
            "previousVersion": "1.0.0",
            "version": "3.0.0",
            "via": "patches",
            "fellBack": False,
            "downloadBytes": 512,
            "waitPid": 4242,
            "log": "/s/handover/install.log",
        }
    )
    assert parse_handover(obj(text), exit_code=11) == HandedOver(
        "3.0.0", "1.0.0", "patches", False, 512, 4242, "/s/handover/install.log"
    )
    assert parse_handover({"status": "none", "currentVersion": "3.0.0"}, exit_code=0) == NoUpdate("3.0.0")
    # exit 0 with anything but "none", or "none" with exit 11, is not an answer we can act on
    with pytest.raises(ClientOutputError):
        parse_handover({"status": "handed-over", "version": "3.0.0"}, exit_code=0)
