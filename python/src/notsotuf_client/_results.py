"""Typed results of the client's commands, parsed from its ``--json`` output.

The CLI prints exactly one JSON object on standard output, on failure too:
``{"status": "error", "error": {"name": ..., "code": ..., "message": ...}}``. These functions
take that text (and the exit code) and return a frozen dataclass or raise the matching
:class:`~notsotuf_client.NotsotufError`. They only see values: no process, no file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Tuple, Union

from ._errors import ClientOutputError, CommandError, command_error_class

# Exit codes of the notsotuf CLI (docs/client.md).
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_UPDATE_AVAILABLE = 10
EXIT_UPDATED = 11

Json = Mapping[str, Any]


@dataclass(frozen=True)
class LastHandover:
    """What the installer did with the last hand-over, reported once by the next ``check``.

    ``outcome``: ``installed`` (the new version confirmed in time and was kept), ``rolled-back``
    (it did not: the previous version was put back and the new one is never offered again) or
    ``failed`` (the swap itself failed; nothing changed). ``reason`` says why, for a log.
    """

    outcome: str
    version: Optional[str] = None
    previous_version: Optional[str] = None
    reason: Optional[str] = None


@dataclass(frozen=True)
class NoUpdate:
    """Nothing to install: the installed version is the newest one offered to this install."""

    current_version: Optional[str]
    last_handover: Optional[LastHandover] = None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @property
    def available(self) -> Literal[False]:
        return False


@dataclass(frozen=True)
class UpdateAvailable:
    """An update can be installed: ``kind`` says whether by patches or by the full archive."""

    current_version: Optional[str]
    version: str
    kind: Literal["patches", "full"]
    download_bytes: int
    files: Tuple[str, ...] = ()
    required: bool = False
    user: Json = field(default_factory=dict)
    last_handover: Optional[LastHandover] = None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @property
    def available(self) -> Literal[True]:
        return True


CheckResult = Union[NoUpdate, UpdateAvailable]


@dataclass(frozen=True)
class Installed:
    """``install`` put the newest release into the (missing or empty) install folder.

    ``already_installed``: the folder already held a signed release (``version``); nothing was
    changed (``update`` moves it to the newest).
    """

    version: str
    install_dir: Optional[str] = None
    download_bytes: Optional[int] = None
    already_installed: bool = False
    raw: Json = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Updated:
    """``update`` without restart installed a new version (the app was not running)."""

    version: str
    previous_version: Optional[str] = None
    via: Optional[str] = None
    fell_back: bool = False
    download_bytes: Optional[int] = None
    raw: Json = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class HandedOver:
    """``update(restart=True)`` staged the update and started the installer: exit the app now.

    The installer waits for this process to exit, swaps the folders, restarts the app and keeps
    the new version only if it confirms (``Client.confirm()``) in time.
    """

    version: Optional[str]
    previous_version: Optional[str] = None
    via: Optional[str] = None
    fell_back: bool = False
    download_bytes: Optional[int] = None
    wait_pid: Optional[int] = None
    log: Optional[str] = None
    raw: Json = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Confirmed:
    """``confirm`` told the installer that this version started well."""

    version: Optional[str]
    raw: Json = field(default_factory=dict, repr=False, compare=False)


def _tail(text: str, limit: int = 2000) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def parse_json_object(stdout: str, *, exit_code: Optional[int], stderr: str, command: str) -> Json:
    """The one JSON object the CLI printed, or ClientOutputError naming what came instead."""
    text = stdout.strip()
    candidates = [text]
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        candidates.append(lines[-1])  # a stray line before the object (e.g. a runtime warning)
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    what = "printed nothing" if text == "" else f"printed {_tail(text, 300)!r}"
    detail = f" (exit code {exit_code}; stderr: {_tail(stderr, 500)})" if stderr.strip() else (
        f" (exit code {exit_code})"
    )
    raise ClientOutputError(
        f"notsotuf {command} --json {what}, not a JSON object{detail}: "
        "is the executable the notsotuf client, and recent enough to support --json?",
        exit_code=exit_code,
        stdout=stdout,
        stderr=stderr,
    )


def _bad(obj: Json, command: str, why: str, exit_code: Optional[int], stderr: str) -> ClientOutputError:
    return ClientOutputError(
        f"notsotuf {command} --json printed an object this package does not understand ({why}): "
        f"{_tail(json.dumps(obj), 300)}",
        exit_code=exit_code,
        stdout=json.dumps(obj),
        stderr=stderr,
    )


def raise_for_error(obj: Json, *, exit_code: int, stderr: str, command: str) -> None:
    """Raises the CommandError the CLI reported (status "error", or a failure exit code)."""
    if obj.get("status") == "error":
        error = obj.get("error")
        if not isinstance(error, dict):
            raise _bad(obj, command, '"error" is not an object', exit_code, stderr)
        code = error.get("code")
        name = error.get("name")
        message = error.get("message")
        cls = command_error_class(name if isinstance(name, str) else "")
        raise cls(
            code if isinstance(code, str) and code else "UNKNOWN",
            message if isinstance(message, str) and message else f"notsotuf {command} failed",
            name if isinstance(name, str) and name else None,
            exit_code=exit_code,
            stderr=stderr,
            command=command,
        )
    if exit_code not in (EXIT_OK, EXIT_UPDATE_AVAILABLE, EXIT_UPDATED):
        raise CommandError(
            "CLIENT_FAILED",
            f"notsotuf {command} exited with code {exit_code} without an error object"
            + (f": {_tail(stderr, 500)}" if stderr.strip() else ""),
            exit_code=exit_code,
            stderr=stderr,
            command=command,
        )


def _opt_str(obj: Json, key: str) -> Optional[str]:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _opt_int(obj: Json, key: str) -> Optional[int]:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _last_handover(obj: Json) -> Optional[LastHandover]:
    value = obj.get("lastHandover")
    if not isinstance(value, dict) or not isinstance(value.get("outcome"), str):
        return None
    return LastHandover(
        outcome=value["outcome"],
        version=_opt_str(value, "version"),
        previous_version=_opt_str(value, "previousVersion"),
        reason=_opt_str(value, "reason"),
    )


def parse_check(obj: Json, *, exit_code: int = EXIT_OK, stderr: str = "") -> CheckResult:
    """The result of ``check --json`` (after :func:`raise_for_error`)."""
    status = obj.get("status")
    current = _opt_str(obj, "currentVersion")
    if status == "none":
        return NoUpdate(current, last_handover=_last_handover(obj), raw=obj)
    if status != "available":
        raise _bad(obj, "check", f"status {status!r}", exit_code, stderr)
    version = obj.get("version")
    kind = obj.get("kind")
    size = obj.get("downloadBytes")
    if not isinstance(version, str) or not version:
        raise _bad(obj, "check", "no version", exit_code, stderr)
    if kind not in ("patches", "full"):
        raise _bad(obj, "check", f"kind {kind!r}", exit_code, stderr)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _bad(obj, "check", "downloadBytes is not a whole number", exit_code, stderr)
    files = obj.get("files")
    user = obj.get("user")
    return UpdateAvailable(
        current_version=current,
        version=version,
        kind="patches" if kind == "patches" else "full",
        download_bytes=size,
        files=tuple(f for f in files if isinstance(f, str)) if isinstance(files, list) else (),
        required=obj.get("required") is True,
        user=user if isinstance(user, dict) else {},
        last_handover=_last_handover(obj),
        raw=obj,
    )


def parse_install(obj: Json, *, exit_code: int = EXIT_OK, stderr: str = "") -> Installed:
    """The result of ``install --json``: the version put in place (or found there already)."""
    status = obj.get("status")
    version = _opt_str(obj, "version")
    if status not in ("installed", "already-installed"):
        raise _bad(obj, "install", f"status {status!r}", exit_code, stderr)
    if version is None:
        raise _bad(obj, "install", "no version", exit_code, stderr)
    return Installed(
        version=version,
        install_dir=_opt_str(obj, "installDir"),
        download_bytes=_opt_int(obj, "downloadBytes"),
        already_installed=status == "already-installed",
        raw=obj,
    )


def parse_update(obj: Json, *, exit_code: int = EXIT_OK, stderr: str = "") -> Union[Updated, NoUpdate]:
    """The result of ``update --yes --json`` without restart."""
    if obj.get("status") == "none":
        return NoUpdate(_opt_str(obj, "currentVersion"), raw=obj)
    version = _opt_str(obj, "version")
    if version is None:
        raise _bad(obj, "update", "no version", exit_code, stderr)
    return Updated(
        version=version,
        previous_version=_opt_str(obj, "previousVersion"),
        via=_opt_str(obj, "via"),
        fell_back=obj.get("fellBack") is True,
        download_bytes=_opt_int(obj, "downloadBytes"),
        raw=obj,
    )


def parse_handover(obj: Json, *, exit_code: int = EXIT_UPDATED, stderr: str = "") -> Union[HandedOver, NoUpdate]:
    """The result of ``update --yes --restart --json``: handed over (exit 11), or nothing to do."""
    if obj.get("status") == "none" and exit_code == EXIT_OK:
        return NoUpdate(_opt_str(obj, "currentVersion"), raw=obj)
    if exit_code != EXIT_UPDATED:
        raise _bad(obj, "update", f"exit code {exit_code} with status {obj.get('status')!r}", exit_code, stderr)
    return HandedOver(
        version=_opt_str(obj, "version"),
        previous_version=_opt_str(obj, "previousVersion"),
        via=_opt_str(obj, "via"),
        fell_back=obj.get("fellBack") is True,
        download_bytes=_opt_int(obj, "downloadBytes"),
        wait_pid=_opt_int(obj, "waitPid"),
        log=_opt_str(obj, "log"),
        raw=obj,
    )


def parse_confirm(obj: Json, *, exit_code: int = EXIT_OK, stderr: str = "") -> Confirmed:
    """The result of ``confirm --json``."""
    return Confirmed(_opt_str(obj, "version"), raw=obj)
