"""python-tuf's ngclient against a repository: refresh, then download every target.

Run by test/interop/python-tuf-client.test.ts with the python of .venv/python-tuf (tuf 7.x).

  ngclient_download.py --metadata-url URL --targets-url URL --root 1.root.json --workdir DIR
                       [--now 2030-01-01T00:00:00Z] [--no-download]

The client trusts only the root file given (copied into DIR/metadata/root.json the first time; a
later run with the same DIR goes on from what it trusts by then). --now sets the clock the client
checks expiry against (an injected clock: python-tuf reads datetime.now() in its trusted metadata
set). Prints one JSON object on stdout: {"ok": true, "root_version", "timestamp_version",
"snapshot_version", "targets_version", "targets": {name: {"length", "sha256", "path"}}} or
{"ok": false, "error": "<python-tuf exception class>", "message"}; exit 0 or 1.
"""

import argparse
import datetime as real_datetime
import hashlib
import json
import os
import shutil
import sys
import types

from tuf.api.metadata import Metadata, Targets
from tuf.ngclient import Updater
from tuf.ngclient._internal import trusted_metadata_set


def inject_clock(now_text):
    """Make python-tuf's expiry checks see `now_text` as the current time."""
    now = real_datetime.datetime.fromisoformat(now_text.replace("Z", "+00:00"))

    class FixedDatetime(real_datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return now if tz is None else now.astimezone(tz)

    trusted_metadata_set.datetime = types.SimpleNamespace(
        datetime=FixedDatetime, timezone=real_datetime.timezone, timedelta=real_datetime.timedelta
    )


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def version_of(metadata_dir, role):
    path = os.path.join(metadata_dir, f"{role}.json")
    return Metadata.from_file(path).signed.version if os.path.exists(path) else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--metadata-url", required=True)
    p.add_argument("--targets-url", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--now")
    p.add_argument("--no-download", action="store_true")
    a = p.parse_args()

    if a.now:
        inject_clock(a.now)
    metadata_dir = os.path.join(a.workdir, "metadata")
    download_dir = os.path.join(a.workdir, "downloads")
    os.makedirs(metadata_dir, exist_ok=True)
    os.makedirs(download_dir, exist_ok=True)
    if not os.path.exists(os.path.join(metadata_dir, "root.json")):
        shutil.copyfile(a.root, os.path.join(metadata_dir, "root.json"))

    try:
        updater = Updater(
            metadata_dir=metadata_dir,
            metadata_base_url=a.metadata_url,
            target_dir=download_dir,
            target_base_url=a.targets_url,
            bootstrap=None,
        )
        updater.refresh()
        # Every target the top-level targets role lists (notsotuf uses no delegations).
        listed = Metadata[Targets].from_file(os.path.join(metadata_dir, "targets.json")).signed.targets
        targets = {}
        for name in sorted(listed):
            info = updater.get_targetinfo(name)
            if info is None:
                raise RuntimeError(f"get_targetinfo({name!r}) found nothing")
            entry = {"length": info.length}
            if not a.no_download:
                path = updater.download_target(info, os.path.join(download_dir, name.replace("/", "_")))
                entry["path"] = path
                entry["sha256"] = sha256_of(path)
            targets[name] = entry
    except Exception as e:  # noqa: BLE001 - the test reads the class name
        print(json.dumps({"ok": False, "error": type(e).__name__, "message": str(e)}))
        return 1
    print(
        json.dumps(
            {
                "ok": True,
                "root_version": version_of(metadata_dir, "root"),
                "timestamp_version": version_of(metadata_dir, "timestamp"),
                "snapshot_version": version_of(metadata_dir, "snapshot"),
                "targets_version": version_of(metadata_dir, "targets"),
                "targets": targets,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
