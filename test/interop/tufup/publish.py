"""tufup's own repository tools, as a tufup user runs them (tufup 0.10.0, .venv/tufup).

  publish.py --repo DIR --keys DIR --app NAME init
  publish.py --repo DIR --keys DIR --app NAME add VERSION BUNDLE_DIR [--skip-patch]

`init` makes the keys (unencrypted) and signs root v1; `add` is tufup's Repository.add_bundle
(archive, and a bsdiff4 patch from the previous archive) then publish_changes. Prints one JSON
object: the archive and patch files of the new version with their sizes, and the seconds spent in
add_bundle and publish_changes (bench/tufup.ts reads them). Run it with the working folder where
tufup may write its .tufup-repo-config.
"""

import argparse
import json
import os
import sys
import time

from tufup.repo import Repository


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repo", required=True)
    p.add_argument("--keys", required=True)
    p.add_argument("--app", required=True)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("init")
    add = sub.add_parser("add")
    add.add_argument("version")
    add.add_argument("bundle")
    add.add_argument("--skip-patch", action="store_true")
    a = p.parse_args()

    if a.command == "init":
        # tufup's `tufup init`: the config file in the working folder, keys, root v1.
        repo = Repository(app_name=a.app, repo_dir=a.repo, keys_dir=a.keys)
        repo.save_config()
        repo.initialize()
        print(json.dumps({"ok": True, "root": os.path.join(a.repo, "metadata", "root.json")}))
        return 0
    # tufup's `tufup targets add`: the repository from its config file.
    repo = Repository.from_config()
    t0 = time.perf_counter()
    repo.add_bundle(new_bundle_dir=a.bundle, new_version=a.version, skip_patch=a.skip_patch)
    t1 = time.perf_counter()
    repo.publish_changes(private_key_dirs=[a.keys])
    t2 = time.perf_counter()
    targets = os.path.join(a.repo, "targets")
    archive = os.path.join(targets, f"{a.app}-{a.version}.tar.gz")
    patch = os.path.join(targets, f"{a.app}-{a.version}.patch")
    print(
        json.dumps(
            {
                "ok": True,
                "archive": archive,
                "archiveBytes": os.path.getsize(archive),
                "patch": patch if os.path.exists(patch) else None,
                "patchBytes": os.path.getsize(patch) if os.path.exists(patch) else None,
                "addBundleSeconds": t1 - t0,
                "publishSeconds": t2 - t1,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
