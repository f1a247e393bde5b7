"""tufup's client updating an installed app folder, for `npm run bench:tufup` (.venv/tufup).

  tufup-update.py --app NAME --install-dir DIR --version V --state DIR --metadata-url URL
                  --targets-url URL

The state folder holds what a tufup app keeps between runs: metadata/root.json (trusted) and
targets/<app>-<V>.tar.gz (the current archive, which tufup needs to update by patch). Installs as a
tufup app on Linux must (tufup's install_update has no Linux branch): empty the app folder and copy
the new files in, as tufup's macOS install does. Prints one JSON object: how it updated.
"""

import argparse
import json
import pathlib
import shutil
import sys

from tufup.client import Client


def install_linux(src_dir, dst_dir, purge_dst_dir=False, **kwargs):
    if purge_dst_dir:
        for path in pathlib.Path(dst_dir).iterdir():
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    shutil.copytree(src_dir, dst_dir, dirs_exist_ok=True, symlinks=True)
    shutil.rmtree(src_dir, ignore_errors=True)


def main():
    p = argparse.ArgumentParser()
    for name in ("--app", "--install-dir", "--version", "--state", "--metadata-url", "--targets-url"):
        p.add_argument(name, required=True)
    a = p.parse_args()
    state = pathlib.Path(a.state)
    client = Client(
        app_name=a.app,
        app_install_dir=pathlib.Path(a.install_dir),
        current_version=a.version,
        metadata_dir=state / "metadata",
        metadata_base_url=a.metadata_url,
        target_dir=state / "targets",
        target_base_url=a.targets_url,
        extract_dir=state / "extract",
        refresh_required=True,
    )
    new = client.check_for_updates()
    if new is None:
        print(json.dumps({"ok": False, "error": "no update found"}))
        return 1
    kind = "patches" if all(t.is_patch for t in client.new_targets) else "archive"
    files = sorted(t.filename for t in client.new_targets)
    client.download_and_apply_update(skip_confirmation=True, install=install_linux, purge_dst_dir=True)
    print(json.dumps({"ok": True, "version": str(new.version), "kind": kind, "files": files}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
