"""A real notsotuf repository for the tests that drive the real CLI.

``NOTSOTUF_TEST_CLI`` names a program that runs the notsotuf CLI (the node test suite writes a
tiny wrapper around ``bin/notsotuf.js``; the single-file executable works too). The repository is
made with that CLI's own publisher commands (``init``, ``release add``) and served by its
``serve`` command on 127.0.0.1 with a free port. Without the variable these tests skip, unless
``NOTSOTUF_TEST_REQUIRE_CLI=1`` or ``CI=true`` (then they fail: a missing tool is never a
silent skip in CI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest


def _cli_or_skip() -> str:
    cli = os.environ.get("NOTSOTUF_TEST_CLI")
    if cli:
        return cli
    why = "NOTSOTUF_TEST_CLI is not set (the node test test/python/notsotuf-client.test.ts sets it)"
    if os.environ.get("NOTSOTUF_TEST_REQUIRE_CLI") == "1" or os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


def pseudo_random(length: int, seed: int) -> bytes:
    """Deterministic incompressible bytes (xorshift32), so patches are small and archives are not."""
    out = bytearray(length)
    x = seed or 1
    for i in range(length):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x & 0xFF
    return bytes(out)


class Repository:
    """A publisher project (keys, repository) and the CLI's `serve` over it."""

    def __init__(self, cli: str, root: Path) -> None:
        self.cli = cli
        self.root = root
        self.project = root / "publisher"
        self.project.mkdir(parents=True)
        self.server: Optional["subprocess.Popen[bytes]"] = None
        self.url = ""
        self.run("init", "--yes", "--app", "demo")

    def run(self, *args: str, cwd: Optional[Path] = None) -> "subprocess.CompletedProcess[str]":
        done = subprocess.run(
            [self.cli, *args],
            cwd=cwd or self.project,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise AssertionError(f"notsotuf {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def serve(self) -> None:
        log = open(self.root / "serve.log", "w+b")  # noqa: SIM115 (closed with the process)
        self.server = subprocess.Popen(
            [self.cli, "serve", "--port", "0", "--host", "127.0.0.1"],
            cwd=self.project,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            log.seek(0)
            found = re.search(rb"metadata: (http://127\.0\.0\.1:\d+)/metadata/", log.read())
            if found:
                self.url = found.group(1).decode()
                return
            if self.server.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("notsotuf serve did not start: " + (self.root / "serve.log").read_text())

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()

    @property
    def root_json(self) -> bytes:
        return (self.project / "repository" / "metadata" / "1.root.json").read_bytes()

    def settings(self, **extra: object) -> Dict[str, object]:
        """update.json settings for an app of this repository (paths relative to the file)."""
        base: Dict[str, object] = {
            "appName": "demo",
            "metadataUrl": f"{self.url}/metadata",
            "targetsUrl": f"{self.url}/targets",
            "trustedRoot": "root.json",
        }
        base.update(extra)
        return base

    def write_app(self, version: str) -> Path:
        """Version `version` of the demo app: data that changes a little, update.json, root.json."""
        folder = self.root / "builds" / version
        folder.mkdir(parents=True)
        data = bytearray(pseudo_random(96 * 1024, 42))
        minor = int(version.split(".")[1])
        for i in range(minor):
            data[10_000 + i * 20_000 : 10_000 + i * 20_000 + 64] = pseudo_random(64, 1000 + i)
        (folder / "data.bin").write_bytes(bytes(data))
        (folder / "version.txt").write_text(f"{version}\n")
        (folder / "root.json").write_bytes(self.root_json)
        (folder / "update.json").write_text(json.dumps(self.settings(installDir=".")))
        return folder

    def release(self, version: str) -> Path:
        folder = self.write_app(version)
        self.run("release", "add", version, str(folder))
        return folder

    def patch_size(self, version: str) -> int:
        """The signed length of the patch to `version` (`release list --json`)."""
        for item in json.loads(self.run("release", "list", "--json").stdout):
            if item["version"] == version:
                return int(item["patchLength"])
        raise AssertionError(f"release {version} is not listed")


@pytest.fixture(scope="module")
def repository() -> Iterator[Repository]:
    cli = _cli_or_skip()
    root = Path(tempfile.mkdtemp(prefix="notsotuf py "))  # a space in every path on purpose
    repo = Repository(cli, root)
    try:
        repo.serve()
        yield repo
    finally:
        repo.stop()
        shutil.rmtree(root, ignore_errors=True)
