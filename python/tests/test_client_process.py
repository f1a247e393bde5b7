"""The Client running real processes that are not a good notsotuf client: each gives a clear error."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from notsotuf_client import (
    Client,
    ClientNotFoundError,
    ClientOutputError,
    ClientStartError,
    ClientTimeoutError,
    Confirmed,
    HandedOver,
    TransportError,
    UsageError,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the stand-in clients are POSIX shell scripts")


def script(folder: Path, body: str, name: str = "notsotuf-fake") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_missing_executable(tmp_path: Path) -> None:
    with pytest.raises(ClientNotFoundError) as info:
        Client(tmp_path / "update.json", executable=tmp_path / "no such client")
    assert "no such client" in info.value.message


def test_found_beside_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTSOTUF_CLIENT", raising=False)
    app = tmp_path / "my app"
    exe = script(app, 'echo \'{"status":"none","currentVersion":"1.0.0"}\'\n', name="notsotuf")
    client = Client(app / "update.json")
    assert client.executable == str(exe)
    assert client.check().available is False


def test_output_that_is_not_json(tmp_path: Path) -> None:
    exe = script(tmp_path / "bin", "echo 'Usage: some other program'\necho 'oops' >&2\nexit 3\n")
    with pytest.raises(ClientOutputError) as info:
        Client(tmp_path / "update.json", executable=exe).check()
    error = info.value
    assert error.code == "CLIENT_BAD_OUTPUT"
    assert error.exit_code == 3
    assert "Usage: some other program" in error.message and "oops" in error.message


def test_not_executable(tmp_path: Path) -> None:
    exe = script(tmp_path / "bin", "echo '{}'\n")
    exe.chmod(0o644)
    with pytest.raises(ClientStartError) as info:
        Client(tmp_path / "update.json", executable=exe).check()
    assert info.value.code == "CLIENT_START_FAILED"
    assert "chmod +x" in info.value.message


def test_a_client_that_hangs_is_stopped_at_the_time_limit(tmp_path: Path) -> None:
    exe = script(tmp_path / "bin", "exec sleep 60\n")
    with pytest.raises(ClientTimeoutError) as info:
        Client(tmp_path / "update.json", executable=exe, check_timeout=1).check()
    assert info.value.code == "CLIENT_TIMEOUT"


def test_arguments_and_paths_with_spaces_reach_the_client_intact(tmp_path: Path) -> None:
    # The stand-in records its arguments as JSON (with Python, so the check is exact).
    record = tmp_path / "args.json"
    exe = script(
        tmp_path / "a folder",
        f'"{sys.executable}" -c \'import json, sys; json.dump(sys.argv[2:], open(sys.argv[1], "w"))\' "{record}" "$@"\n'
        'echo \'{"status":"handed-over","version":"3.0.0"}\'\nexit 11\n',
    )
    config = tmp_path / "my app" / "update.json"
    result = Client(config, executable=exe).update(restart=["/opt/my app/run", "--flag", "a b"], wait_pid=4242)
    assert result == HandedOver("3.0.0")
    args = json.loads(record.read_text())
    assert args == [
        "update",
        "--config",
        str(config),
        "--json",
        "--yes",
        "--restart",
        "--wait-pid",
        "4242",
        "--",
        "/opt/my app/run",
        "--flag",
        "a b",
    ]


def test_restart_true_restarts_this_process_and_waits_for_it(tmp_path: Path) -> None:
    record = tmp_path / "args.json"
    exe = script(
        tmp_path / "bin",
        f'"{sys.executable}" -c \'import json, sys; json.dump(sys.argv[2:], open(sys.argv[1], "w"))\' "{record}" "$@"\n'
        'echo \'{"status":"handed-over","version":"3.0.0"}\'\nexit 11\n',
    )
    Client(tmp_path / "update.json", executable=exe).update()
    args = json.loads(record.read_text())
    assert args[args.index("--wait-pid") + 1] == str(os.getpid())
    assert args[args.index("--") + 1 :] == [sys.executable, *sys.argv]


def test_the_client_error_object_is_raised_with_exit_code_and_stderr(tmp_path: Path) -> None:
    body = (
        "echo 'error: could not reach the repository' >&2\n"
        'echo \'{"status":"error","error":{"name":"TransportError","code":"FETCH_FAILED",'
        '"message":"could not reach the repository: try again later"}}\'\nexit 1\n'
    )
    exe = script(tmp_path / "bin", body)
    with pytest.raises(TransportError) as info:
        Client(tmp_path / "update.json", executable=exe).check()
    error = info.value
    assert (error.code, error.name, error.exit_code) == ("FETCH_FAILED", "TransportError", 1)
    assert "try again later" in error.message
    assert "could not reach" in error.stderr


def test_an_installer_left_running_does_not_hold_the_call(tmp_path: Path) -> None:
    # A hand-over starts an installer that outlives the client and may inherit its output: the
    # call must return when the client exits, not when the installer closes that output.
    pid_file = tmp_path / "installer.pid"
    exe = script(
        tmp_path / "bin",
        f'sleep 120 &\necho $! > "{pid_file}"\n'
        'echo \'{"status":"handed-over","version":"2.0.0"}\'\nexit 11\n',
    )
    result = Client(tmp_path / "update.json", executable=exe, timeout=100).update(restart=["x"])
    pid = int(pid_file.read_text())
    try:
        assert isinstance(result, HandedOver)
        os.kill(pid, 0)  # still running: the call did not wait for it
    finally:
        os.kill(pid, signal.SIGKILL)


def _confirm_client(tmp_path: Path, answer: str, code: int) -> Client:
    exe = script(tmp_path / "bin", f"echo run >> \"{tmp_path / 'ran'}\"\necho '{answer}'\nexit {code}\n")
    return Client(tmp_path / "update.json", executable=exe)


def test_confirm_if_handed_over_runs_nothing_on_a_normal_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTSOTUF_HANDOVER", raising=False)
    assert _confirm_client(tmp_path, '{"status":"confirmed","version":"2.0.0"}', 0).confirm_if_handed_over() is None
    assert not (tmp_path / "ran").exists()


def test_confirm_if_handed_over_confirms_after_a_hand_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTSOTUF_HANDOVER", "1")
    client = _confirm_client(tmp_path, '{"status":"confirmed","version":"2.0.0"}', 0)
    assert client.confirm_if_handed_over() == Confirmed("2.0.0")


def test_confirm_if_handed_over_after_a_roll_back_has_nothing_to_confirm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTSOTUF_HANDOVER", "1")
    answer = '{"status":"error","error":{"name":"UsageError","code":"NOTHING_TO_CONFIRM","message":"no"}}'
    assert _confirm_client(tmp_path, answer, 2).confirm_if_handed_over() is None
    other = '{"status":"error","error":{"name":"UsageError","code":"CONFIG_INVALID","message":"bad"}}'
    with pytest.raises(UsageError) as info:
        _confirm_client(tmp_path / "other", other, 2).confirm_if_handed_over()
    assert info.value.code == "CONFIG_INVALID"
