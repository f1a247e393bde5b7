"""Version 1 of the demo app as a tufup user ships it: it updates itself with tufup's client.

The bundle holds this file as app.py, version.txt, tufup's root.json and tufup.json (the
repository URLs and the state folder, relative to the app folder). On start it prints its version,
checks the tufup repository, and installs a newer version into its own folder (patches when it has
the current archive in its state folder, else the full archive). tufup's install_update supports
Windows and macOS only, so on Linux a tufup app passes its own install function: this one does what
tufup's macOS one does (empty the app folder, copy the new files in), without the restart.
Used by test/interop/tufup-migration.test.ts and, run with --bench, by bench/tufup.ts.
"""

import json
import os
import pathlib
import shutil
import sys
import time

sys.dont_write_bytecode = True

from tufup.client import Client  # noqa: E402

APP_DIR = pathlib.Path(__file__).resolve().parent


def install_linux(src_dir, dst_dir, purge_dst_dir=False, **kwargs):
    if purge_dst_dir:
        for path in pathlib.Path(dst_dir).iterdir():
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    shutil.copytree(src_dir, dst_dir, dirs_exist_ok=True, symlinks=True)
    shutil.rmtree(src_dir, ignore_errors=True)


def main():
    config = json.loads((APP_DIR / "tufup.json").read_text())
    version = (APP_DIR / "version.txt").read_text().strip()
    print(f"demo {version} (tufup client)", flush=True)
    state = (APP_DIR / config["stateDir"]).resolve()
    metadata_dir = state / "metadata"
    target_dir = state / "targets"
    extract_dir = state / "extract"
    for d in (metadata_dir, target_dir, extract_dir):
        d.mkdir(parents=True, exist_ok=True)
    if not (metadata_dir / "root.json").exists():
        shutil.copyfile(APP_DIR / "root.json", metadata_dir / "root.json")
    client = Client(
        app_name=config["app"],
        app_install_dir=APP_DIR,
        current_version=version,
        metadata_dir=metadata_dir,
        metadata_base_url=config["metadataUrl"],
        target_dir=target_dir,
        target_base_url=config["targetsUrl"],
        extract_dir=extract_dir,
        refresh_required=True,
    )
    t0 = time.perf_counter()
    new = client.check_for_updates()
    if new is None:
        print("no update", flush=True)
        return 0
    kind = "patches" if all(t.is_patch for t in client.new_targets) else "archive"
    files = sorted(t.filename for t in client.new_targets)
    print(f"update {new.version} by {kind}: {' '.join(files)}", flush=True)
    client.download_and_apply_update(skip_confirmation=True, install=install_linux, purge_dst_dir=True)
    t1 = time.perf_counter()
    print(f"installed {new.version} in {t1 - t0:.3f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
