"""What the client process gets: PyInstaller's variables undone, no console window on Windows."""

from __future__ import annotations

from notsotuf_client import CREATE_NO_WINDOW, child_environment
from notsotuf_client._run import creation_flags


def test_a_frozen_app_gives_the_client_the_environment_from_before_the_bootloader() -> None:
    env = child_environment(
        {
            "PATH": "/usr/bin",
            "LD_LIBRARY_PATH": "/opt/app/_internal",
            "LD_LIBRARY_PATH_ORIG": "/usr/local/lib",
            "_PYI_ARCHIVE_FILE": "/opt/app/app",
            "_PYI_PARENT_PROCESS_LEVEL": "1",
        },
        frozen=True,
    )
    assert env == {"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/usr/local/lib", "PYINSTALLER_RESET_ENVIRONMENT": "1"}


def test_a_library_path_the_bootloader_added_is_removed() -> None:
    env = child_environment({"LD_LIBRARY_PATH": "/opt/app/_internal", "HOME": "/root"}, frozen=True)
    assert "LD_LIBRARY_PATH" not in env
    assert env["HOME"] == "/root"


def test_a_script_keeps_its_environment() -> None:
    env = child_environment({"LD_LIBRARY_PATH": "/mine", "X": "1"}, frozen=False)
    assert env == {"LD_LIBRARY_PATH": "/mine", "X": "1"}


def test_no_console_window_on_windows_only() -> None:
    assert CREATE_NO_WINDOW == 0x08000000
    assert creation_flags("win32") == CREATE_NO_WINDOW
    assert creation_flags("linux") == 0
    assert creation_flags("darwin") == 0
