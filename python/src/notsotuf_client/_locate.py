"""Finding the notsotuf client executable that ships beside the app."""

from __future__ import annotations

import os
import platform
import sys
from typing import List, Mapping, Optional, Sequence

from ._errors import ClientNotFoundError

ENV_VARIABLE = "NOTSOTUF_CLIENT"
"""An environment variable that, when set, names the client executable (a path)."""


def platform_tag(system: Optional[str] = None, machine: Optional[str] = None) -> str:
    """The platform part of the executable's name: ``linux-x64``, ``win-x64``, ``darwin-arm64``..."""
    system = sys.platform if system is None else system
    machine = (platform.machine() if machine is None else machine).lower()
    os_tag = "win" if system.startswith("win") or system == "cygwin" else (
        "darwin" if system == "darwin" else "linux" if system.startswith("linux") else system
    )
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{os_tag}-{arch}"


def executable_names(system: Optional[str] = None, machine: Optional[str] = None) -> List[str]:
    """File names the client executable may have on this platform, most specific first.

    ``notsotuf-<platform>`` is what ``npm run build:exe`` writes (``notsotuf-win-x64.exe`` on
    Windows); ``notsotuf`` (``notsotuf.exe``) is the short name for a renamed copy. On arm64 macOS
    and Windows the x64 executable comes next: no darwin-arm64 or win-arm64 one is built, and both
    systems run x64 programs (Rosetta 2, Windows 11's emulation). Linux arm64 cannot.
    """
    tag = platform_tag(system, machine)
    windows = tag.startswith("win-")
    suffix = ".exe" if windows else ""
    names = [f"notsotuf-{tag}{suffix}"]
    if tag in ("darwin-arm64", "win-arm64"):
        names.append(f"notsotuf-{tag[: -len('arm64')]}x64{suffix}")
    return names + [f"notsotuf{suffix}"]


def search_dirs(config_path: Optional[str] = None) -> List[str]:
    """Folders searched for the client, in order, without duplicates.

    1. For a frozen app (PyInstaller and the like): the folder of the app's executable
       (``sys.executable``), then PyInstaller's contents folder (``sys._MEIPASS``, ``_internal/``).
    2. The folder of the config file (update.json usually ships beside the client).
    3. The folder of the script that was started (``sys.argv[0]``), for an app that is not frozen.
    """
    dirs: List[str] = []
    if getattr(sys, "frozen", False):
        dirs.append(os.path.dirname(os.path.abspath(sys.executable)))
        meipass = getattr(sys, "_MEIPASS", None)
        if isinstance(meipass, str):
            dirs.append(os.path.abspath(meipass))
    if config_path is not None:
        dirs.append(os.path.dirname(os.path.abspath(config_path)))
    if sys.argv and sys.argv[0] not in ("", "-c", "-m"):
        dirs.append(os.path.dirname(os.path.abspath(sys.argv[0])))
    seen: List[str] = []
    for d in dirs:
        key = os.path.normcase(d)
        if key not in (os.path.normcase(s) for s in seen):
            seen.append(d)
    return seen


def _is_file(path: str) -> bool:
    return os.path.isfile(path)


def find_executable(
    explicit: Optional[str] = None,
    *,
    config_path: Optional[str] = None,
    dirs: Optional[Sequence[str]] = None,
    names: Optional[Sequence[str]] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> str:
    """The absolute path of the client executable, or ClientNotFoundError listing where it looked.

    ``explicit`` (a path) wins; then the ``NOTSOTUF_CLIENT`` environment variable; then each
    name of :func:`executable_names` in each folder of :func:`search_dirs`.
    """
    env = os.environ if environ is None else environ
    if explicit is not None:
        path = os.path.abspath(explicit)
        if not _is_file(path):
            raise ClientNotFoundError(
                f"the notsotuf client executable {path} does not exist (or is not a file): "
                "pass the path of notsotuf-<platform> that ships with the app",
                [path],
            )
        return path
    from_env = env.get(ENV_VARIABLE)
    if from_env:
        path = os.path.abspath(from_env)
        if not _is_file(path):
            raise ClientNotFoundError(
                f"{ENV_VARIABLE}={from_env} does not name a file: set it to the notsotuf client "
                "executable, or unset it to look beside the app",
                [path],
            )
        return path
    tried: List[str] = []
    for d in search_dirs(config_path) if dirs is None else dirs:
        for name in executable_names() if names is None else names:
            path = os.path.join(d, name)
            tried.append(path)
            if _is_file(path):
                return path
    raise ClientNotFoundError(
        "the notsotuf client executable was not found beside the app; looked for "
        + ", ".join(tried)
        + ". Ship it in the app folder (next to the app's executable) or pass its path "
        f"(Client(..., executable=PATH) or {ENV_VARIABLE}=PATH)",
        tried,
    )
