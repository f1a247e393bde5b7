"""notsotuf_client against the real CLI: install, check, update, confirm, bad input.

The repository is made with the CLI's publisher commands (conftest.py). Paths hold spaces.
"""

from __future__ import annotations

import filecmp
import json
import os
from pathlib import Path
from typing import List

import pytest

from conftest import Repository
from notsotuf_client import (
    Client,
    Installed,
    NoUpdate,
    TransportError,
    UpdateAvailable,
    Updated,
    UsageError,
)


def same_tree(a: Path, b: Path) -> List[str]:
    """Differences between two folders, byte for byte (empty when equal)."""
    diffs: List[str] = []

    def walk(cmp: filecmp.dircmp) -> None:  # type: ignore[type-arg]
        diffs.extend(f"only in {cmp.left}: {n}" for n in cmp.left_only)
        diffs.extend(f"only in {cmp.right}: {n}" for n in cmp.right_only)
        for name in cmp.common_files:
            if Path(cmp.left, name).read_bytes() != Path(cmp.right, name).read_bytes():
                diffs.append(f"differs: {name}")
        for sub in cmp.subdirs.values():
            walk(sub)

    walk(filecmp.dircmp(a, b))
    return diffs


def installer_config(repository: Repository, folder: Path, install_dir: Path) -> Path:
    """What a user downloads to install the app: update.json and root.json (the client is the CLI)."""
    folder.mkdir(parents=True)
    (folder / "root.json").write_bytes(repository.root_json)
    config = folder / "update.json"
    config.write_text(json.dumps(repository.settings(installDir=os.path.relpath(install_dir, folder))))
    return config


def test_install_check_update_check_as_an_app_would(repository: Repository) -> None:
    v1 = repository.release("1.0.0")
    app = repository.root / "installed" / "demo app"
    config = installer_config(repository, repository.root / "installer one", app)
    installed = Client(config, executable=repository.cli).install()
    assert isinstance(installed, Installed)
    assert (installed.version, installed.already_installed) == ("1.0.0", False)
    assert same_tree(app, v1) == []

    # From here on the app uses the update.json it ships (installDir ".").
    client = Client(app / "update.json", executable=repository.cli)
    assert client.check() == NoUpdate("1.0.0")

    v2 = repository.release("1.1.0")
    available = client.check()
    assert isinstance(available, UpdateAvailable)
    assert (available.current_version, available.version, available.kind) == ("1.0.0", "1.1.0", "patches")
    assert available.download_bytes == repository.patch_size("1.1.0")
    assert available.files == ("demo-1.1.0.patch",)
    assert same_tree(app, v1) == []  # check changes nothing

    updated = client.update(restart=False)
    assert isinstance(updated, Updated)
    assert (updated.previous_version, updated.version, updated.via) == ("1.0.0", "1.1.0", "patches")
    assert same_tree(app, v2) == []
    # The same update.json (no currentVersion in it) now knows 1.1.0 is installed.
    after = client.check()
    assert isinstance(after, NoUpdate) and after.current_version == "1.1.0"
    # update --yes goes through the installer too; this start reports what it did, once.
    assert after.last_handover is not None
    assert (after.last_handover.outcome, after.last_handover.version) == ("installed", "1.1.0")
    assert client.update(restart=False) == NoUpdate("1.1.0")

    again = Client(config, executable=repository.cli).install()
    assert (again.version, again.already_installed) == ("1.1.0", True)
    assert same_tree(app, v2) == []


def test_install_into_a_folder_that_holds_something_else_is_refused(repository: Repository) -> None:
    app = repository.root / "foreign"
    app.mkdir()
    (app / "notes.txt").write_text("mine")
    config = installer_config(repository, repository.root / "installer foreign", app)
    with pytest.raises(UsageError) as info:
        Client(config, executable=repository.cli).install()
    assert info.value.code == "INSTALL_DIR_NOT_EMPTY"
    assert info.value.exit_code == 2
    assert sorted(p.name for p in app.iterdir()) == ["notes.txt"]
    assert (app / "notes.txt").read_text() == "mine"


def test_confirm_with_nothing_pending_is_refused(repository: Repository) -> None:
    app = repository.root / "confirm app"
    config = installer_config(repository, repository.root / "installer confirm", app)
    Client(config, executable=repository.cli).install()
    with pytest.raises(UsageError) as info:
        Client(app / "update.json", executable=repository.cli).confirm()
    assert info.value.code == "NOTHING_TO_CONFIRM"


def test_an_unreachable_repository_is_a_transport_error(repository: Repository) -> None:
    app = repository.root / "offline app"
    config = installer_config(repository, repository.root / "installer offline", app)
    Client(config, executable=repository.cli).install()
    settings = json.loads((app / "update.json").read_text())
    offline = repository.root / "offline.json"
    (repository.root / "root.json").write_bytes(repository.root_json)
    settings.update(
        installDir=os.path.relpath(app, repository.root),
        metadataUrl="http://127.0.0.1:9/metadata",
        targetsUrl="http://127.0.0.1:9/targets",
    )
    offline.write_text(json.dumps(settings))
    with pytest.raises(TransportError) as info:
        Client(offline, executable=repository.cli).check()
    assert info.value.exit_code == 1
    assert info.value.name == "TransportError"

