"""The Client: each method runs one command of the notsotuf client executable with --json."""

from __future__ import annotations

import os
import sys
from typing import List, Literal, Mapping, Optional, Sequence, Tuple, Union, overload

from ._errors import UsageError
from ._locate import find_executable
from ._results import (
    CheckResult,
    Confirmed,
    HandedOver,
    Installed,
    Json,
    NoUpdate,
    Updated,
    parse_check,
    parse_confirm,
    parse_handover,
    parse_install,
    parse_json_object,
    parse_update,
    raise_for_error,
)
from ._run import Completed, run_client

PathLike = Union[str, "os.PathLike[str]"]

HANDOVER_VARIABLE = "NOTSOTUF_HANDOVER"


def restart_command() -> List[str]:
    """This process's own command line, to start the new version the same way after the swap.

    For a frozen app (PyInstaller) that is the app's executable and its arguments; otherwise the
    Python interpreter, the script and its arguments.
    """
    if getattr(sys, "frozen", False):
        return [sys.executable, *sys.argv[1:]]
    return [sys.executable, *sys.argv]


def started_by_installer(environ: Optional[Mapping[str, str]] = None) -> bool:
    """True when the installer started this process after an update (it must then confirm)."""
    return (os.environ if environ is None else environ).get(HANDOVER_VARIABLE) == "1"


def exit_now(status: int = 0) -> None:
    """Ends the process at once, for after a hand-over: flushes stdout/stderr and exits.

    The installer waits for this process to exit before it swaps the folders. Prefer your app's
    own orderly shutdown followed by ``sys.exit()``; use this when threads that are not daemons
    (a GUI loop, a worker pool) could keep the process alive. atexit handlers do not run.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


class Client:
    """The notsotuf client for one app, driven through its config file (update.json).

    ``config_path``: the update.json that ships with the app (paths in it are relative to it).
    ``executable``: the client executable; by default it is looked for beside the app (see
    :func:`notsotuf_client.find_executable`). ``timeout``: seconds any one command may take
    (default: none; a download may be long); ``check_timeout`` (default 300 s) for ``check``
    and ``confirm``. ``env``: the environment for the client (default: this process's, with
    PyInstaller's own variables put back; see :func:`notsotuf_client.child_environment`).
    """

    def __init__(
        self,
        config_path: PathLike,
        *,
        executable: Optional[PathLike] = None,
        timeout: Optional[float] = None,
        check_timeout: Optional[float] = 300.0,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.config_path = os.path.abspath(os.fspath(config_path))
        self.executable = find_executable(
            None if executable is None else os.fspath(executable), config_path=self.config_path
        )
        self.timeout = timeout
        self.check_timeout = check_timeout
        self.env = None if env is None else dict(env)

    def _run(self, command: str, args: Sequence[str], timeout: Optional[float]) -> Tuple[Json, Completed]:
        argv = [self.executable, command, "--config", self.config_path, "--json", *args]
        done = run_client(argv, timeout=timeout, env=self.env)
        obj = parse_json_object(done.stdout, exit_code=done.exit_code, stderr=done.stderr, command=command)
        raise_for_error(obj, exit_code=done.exit_code, stderr=done.stderr, command=command)
        return obj, done

    def check(self) -> CheckResult:
        """Whether an update is available (never installs anything)."""
        obj, done = self._run("check", [], self.check_timeout)
        return parse_check(obj, exit_code=done.exit_code, stderr=done.stderr)

    def install(self) -> Installed:
        """First install: puts the newest release into the missing or empty install folder.

        A folder that already holds a signed release is left as it is (``already_installed``);
        a folder that holds anything else raises UsageError ``INSTALL_DIR_NOT_EMPTY``.
        """
        obj, done = self._run("install", [], self.timeout)
        return parse_install(obj, exit_code=done.exit_code, stderr=done.stderr)

    @overload
    def update(self, restart: Literal[False], *, wait_pid: Optional[int] = None) -> Union[Updated, NoUpdate]: ...

    @overload
    def update(
        self, restart: Union[Literal[True], Sequence[str]] = True, *, wait_pid: Optional[int] = None
    ) -> Union[HandedOver, NoUpdate]: ...

    def update(
        self, restart: Union[bool, Sequence[str]] = True, *, wait_pid: Optional[int] = None
    ) -> Union[HandedOver, Updated, NoUpdate]:
        """Downloads, verifies and stages the newest update.

        ``restart=True`` (the default, for a running app): hands over to the installer, which
        waits for this process (``wait_pid``, default this process) to exit, swaps the folders,
        restarts the app with this process's command line (or ``restart``, a command and its
        arguments) and keeps the new version only if it calls :meth:`confirm` in time; else it
        restores this version, which then never gets that update offered again. On
        :class:`HandedOver` the app must exit promptly (see :func:`exit_now`).

        ``restart=False``: installs right away with no restart and no health check; only for
        when the app is not running (an updater run by a launcher or a script).
        """
        if restart is False:
            obj, done = self._run("update", ["--yes"], self.timeout)
            return parse_update(obj, exit_code=done.exit_code, stderr=done.stderr)
        command = restart_command() if restart is True else [os.fspath(a) for a in restart]
        if not command:
            raise ValueError("restart: give the command to start the new version, or True for this process's own")
        pid = os.getpid() if wait_pid is None else wait_pid
        args = ["--yes", "--restart", "--wait-pid", str(pid), "--", *command]
        obj, done = self._run("update", args, self.timeout)
        return parse_handover(obj, exit_code=done.exit_code, stderr=done.stderr)

    def confirm(self) -> Confirmed:
        """Tells the installer this version started well, so it is kept.

        Call it once the app works, when :func:`started_by_installer` is true (with no hand-over
        pending it raises UsageError ``NOTHING_TO_CONFIRM``). The first :meth:`check` after a
        hand-over confirms too.
        """
        obj, done = self._run("confirm", [], self.check_timeout)
        return parse_confirm(obj, exit_code=done.exit_code, stderr=done.stderr)

    def confirm_if_handed_over(self) -> Optional[Confirmed]:
        """At start: confirms this version when the installer started it after an update.

        Returns None when this start does not follow a hand-over (no ``NOTSOTUF_HANDOVER=1``), or
        when there is nothing to confirm: the installer restarted this version after rolling a
        new one back, or it was confirmed already. Other errors are raised.
        """
        if not started_by_installer():
            return None
        try:
            return self.confirm()
        except UsageError as error:
            if error.code == "NOTHING_TO_CONFIRM":
                return None
            raise
