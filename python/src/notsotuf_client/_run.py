"""Running the client executable: one process per command, output read from temp files."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence

from ._errors import ClientStartError, ClientTimeoutError

CREATE_NO_WINDOW = 0x08000000
"""Windows process creation flag: a console program started from a GUI app opens no console window."""


@dataclass(frozen=True)
class Completed:
    exit_code: int
    stdout: str
    stderr: str


def child_environment(environ: Optional[Mapping[str, str]] = None, *, frozen: Optional[bool] = None) -> Dict[str, str]:
    """The environment for the client, and through it for the installer and the restarted app.

    A PyInstaller app changes its own environment: on Linux the bootloader points
    ``LD_LIBRARY_PATH`` at the bundle's libraries (keeping the user's value in
    ``LD_LIBRARY_PATH_ORIG``) and sets ``_PYI_*`` variables that tell a frozen program it was
    started by another one. Handed on unchanged, they would make the client load the app's
    libraries and the restarted app believe it is a child of the old one, so they are put back
    as they were before the app started (``PYINSTALLER_RESET_ENVIRONMENT=1`` asks PyInstaller
    >= 6.9 bootloaders to do the same).
    """
    env = dict(os.environ if environ is None else environ)
    is_frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    for key in list(env):
        if key.startswith("_PYI_") or key.startswith("_MEIPASS"):
            del env[key]
    if is_frozen:
        for var in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"):
            original = env.pop(f"{var}_ORIG", None)
            if original is not None:
                env[var] = original
            else:
                env.pop(var, None)
        env["PYINSTALLER_RESET_ENVIRONMENT"] = "1"
    return env


def creation_flags(platform: Optional[str] = None) -> int:
    """CREATE_NO_WINDOW on Windows (no console window flashes up from a windowed app), else 0."""
    return CREATE_NO_WINDOW if (sys.platform if platform is None else platform) == "win32" else 0


def run_client(
    argv: Sequence[str],
    *,
    timeout: Optional[float],
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
) -> Completed:
    """Runs the client and waits for it to exit; returns its exit code and output.

    The output goes to temp files, not pipes: the installer the client starts for a hand-over
    lives on after the client exits, and a pipe it had inherited would keep a read on it open
    until the app itself exits. stdin is closed (the client never prompts with --json).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=child_environment() if env is None else dict(env),
                cwd=cwd,
                creationflags=creation_flags(),
                close_fds=True,
            )
        except OSError as error:
            raise ClientStartError(
                f"could not start the notsotuf client {argv[0]}: {error.strerror or error}"
                + (
                    " (is it executable? chmod +x it, or keep its mode when copying it into the bundle)"
                    if isinstance(error, PermissionError)
                    else ""
                )
            ) from error
        try:
            exit_code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise ClientTimeoutError(
                f"notsotuf {argv[1] if len(argv) > 1 else ''} did not finish within {timeout} s and was stopped"
            ) from None
        out.seek(0)
        err.seek(0)
        return Completed(
            exit_code=exit_code,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )
