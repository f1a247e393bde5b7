"""A running Python script (not frozen) hands over to the installer and is restarted as the update.

The same cycle as the PyInstaller proof (test/python/pyinstaller-app.test.ts), for an app run as
``python app.py``: Client.update(restart=True) restarts it with ``sys.executable`` and its script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import List

from conftest import Repository

SRC = Path(__file__).resolve().parent.parent / "src"

APP = """
import os, sys
sys.path.insert(0, {src!r})
from notsotuf_client import Client, HandedOver, UpdateAvailable, exit_now

VERSION = {version!r}
HERE = os.path.dirname(os.path.abspath(__file__))
LOG = os.path.join(os.path.dirname(HERE), "app.log")


def log(line):
    with open(LOG, "a") as f:
        f.write(line + "\\n")


client = Client(os.path.join(HERE, "update.json"), executable={cli!r})
log("run %s handover=%s" % (VERSION, os.environ.get("NOTSOTUF_HANDOVER", "")))
confirmed = client.confirm_if_handed_over()
if confirmed is not None:
    log("confirmed %s" % confirmed.version)
result = client.check()
if isinstance(result, UpdateAvailable):
    log("update %s -> %s %s" % (VERSION, result.version, result.kind))
    handed = client.update(restart=True)
    if isinstance(handed, HandedOver):
        log("handed-over %s -> %s" % (VERSION, handed.version))
        exit_now(0)
log("done %s" % VERSION)
"""


def processes_with(needle: str) -> List[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if needle.encode() in f.read():
                        found.append(int(name))
            except OSError:
                pass
    return found


def wait_for(what: str, probe, seconds: float = 180):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_python_script_hands_over_is_restarted_as_the_update_and_confirms(repository: Repository) -> None:
    def app_folder(version: str) -> Path:
        folder = repository.write_app(version)
        (folder / "app.py").write_text(APP.format(src=str(SRC), version=version, cli=repository.cli))
        return folder

    v1 = app_folder("1.0.0")
    repository.run("release", "add", "1.0.0", str(v1))
    installer = repository.root / "installer"
    installer.mkdir()
    (installer / "root.json").write_bytes(repository.root_json)
    (installer / "update.json").write_text(json.dumps(repository.settings(installDir="../my app")))
    subprocess.run(
        [repository.cli, "install", "--config", str(installer / "update.json"), "--json"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    app = repository.root / "my app"
    v2 = app_folder("2.0.0")
    repository.run("release", "add", "2.0.0", str(v2))

    log = repository.root / "app.log"
    started = subprocess.run(
        [sys.executable, str(app / "app.py")], cwd=repository.root, capture_output=True, text=True, timeout=300
    )
    assert started.returncode == 0, started.stderr
    wait_for("2.0.0 to confirm and finish", lambda: log.exists() and "done 2.0.0" in log.read_text())
    wait_for("the installer and the app to exit", lambda: not processes_with(str(app)) or None)
    assert log.read_text().splitlines() == [
        "run 1.0.0 handover=",
        "update 1.0.0 -> 2.0.0 patches",
        "handed-over 1.0.0 -> 2.0.0",
        "run 2.0.0 handover=1",
        "confirmed 2.0.0",
        "done 2.0.0",
    ]
    for name in ("app.py", "data.bin", "version.txt", "update.json", "root.json"):
        assert (app / name).read_bytes() == (v2 / name).read_bytes(), name
    assert sorted(p.name for p in app.iterdir()) == sorted(p.name for p in v2.iterdir())
