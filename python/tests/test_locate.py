"""Finding the client executable: names per platform, search order, clear errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from notsotuf_client import ClientNotFoundError, executable_names, find_executable, platform_tag, search_dirs


@pytest.mark.parametrize(
    "system, machine, tag",
    [
        ("linux", "x86_64", "linux-x64"),
        ("win32", "AMD64", "win-x64"),
        ("darwin", "arm64", "darwin-arm64"),
        ("darwin", "x86_64", "darwin-x64"),
        ("linux", "aarch64", "linux-arm64"),
    ],
)
def test_platform_tags_match_the_built_executables(system: str, machine: str, tag: str) -> None:
    assert platform_tag(system, machine) == tag


def test_windows_names_end_in_exe() -> None:
    assert executable_names("win32", "AMD64") == ["notsotuf-win-x64.exe", "notsotuf.exe"]
    assert executable_names("linux", "x86_64") == ["notsotuf-linux-x64", "notsotuf"]


def test_arm64_macos_and_windows_fall_back_to_the_x64_executable_linux_does_not() -> None:
    assert executable_names("darwin", "arm64") == ["notsotuf-darwin-arm64", "notsotuf-darwin-x64", "notsotuf"]
    assert executable_names("win32", "ARM64") == ["notsotuf-win-arm64.exe", "notsotuf-win-x64.exe", "notsotuf.exe"]
    assert executable_names("linux", "aarch64") == ["notsotuf-linux-arm64", "notsotuf"]


def _make(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_found_in_the_first_folder_that_has_it_most_specific_name_first(tmp_path: Path) -> None:
    a, b = tmp_path / "a dir", tmp_path / "b dir"
    _make(b / "notsotuf")
    _make(b / "notsotuf-linux-x64")
    found = find_executable(dirs=[str(a), str(b)], names=["notsotuf-linux-x64", "notsotuf"], environ={})
    assert found == str(b / "notsotuf-linux-x64")


def test_an_explicit_path_wins_and_must_exist(tmp_path: Path) -> None:
    exe = _make(tmp_path / "with space" / "client")
    _make(tmp_path / "notsotuf")
    assert find_executable(str(exe), dirs=[str(tmp_path)], names=["notsotuf"], environ={}) == str(exe)
    with pytest.raises(ClientNotFoundError) as info:
        find_executable(str(tmp_path / "missing"), environ={})
    assert info.value.code == "CLIENT_NOT_FOUND"
    assert str(tmp_path / "missing") in info.value.message


def test_the_environment_variable_names_it(tmp_path: Path) -> None:
    exe = _make(tmp_path / "client")
    assert find_executable(environ={"NOTSOTUF_CLIENT": str(exe)}, dirs=[]) == str(exe)
    with pytest.raises(ClientNotFoundError) as info:
        find_executable(environ={"NOTSOTUF_CLIENT": str(tmp_path / "nope")}, dirs=[])
    assert "NOTSOTUF_CLIENT" in info.value.message


def test_not_found_lists_every_path_it_tried(tmp_path: Path) -> None:
    with pytest.raises(ClientNotFoundError) as info:
        find_executable(dirs=[str(tmp_path / "x"), str(tmp_path / "y")], names=["n1", "n2"], environ={})
    error = info.value
    assert list(error.searched) == [str(tmp_path / d / n) for d in ("x", "y") for n in ("n1", "n2")]
    for path in error.searched:
        assert path in error.message
    assert "executable=PATH" in error.message


def test_a_folder_with_the_name_is_not_an_executable(tmp_path: Path) -> None:
    (tmp_path / "notsotuf").mkdir()
    with pytest.raises(ClientNotFoundError):
        find_executable(dirs=[str(tmp_path)], names=["notsotuf"], environ={})


def test_search_dirs_of_a_frozen_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # What PyInstaller sets in a onedir bundle: sys.frozen, sys.executable, sys._MEIPASS.
    app = tmp_path / "dist" / "myapp"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(app / "myapp"))
    monkeypatch.setattr(sys, "_MEIPASS", str(app / "_internal"), raising=False)
    monkeypatch.setattr(sys, "argv", [str(app / "myapp")])
    dirs = search_dirs(str(tmp_path / "conf" / "update.json"))
    assert dirs == [str(app), str(app / "_internal"), str(tmp_path / "conf")]


def test_search_dirs_of_a_script(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "app" / "main.py")])
    assert search_dirs(None) == [str(tmp_path / "app")]
    assert search_dirs(str(tmp_path / "app" / "update.json")) == [str(tmp_path / "app")]
    assert os.path.isabs(search_dirs(None)[0])
