"""A TUF repository made with python-tuf's Metadata API, for notsotuf's client to read.

Run by test/interop/python-tuf-repository.test.ts with the python of .venv/python-tuf (tuf 7.x).
Shaped like python-tuf's basic_repo example (one ed25519 key per top-level role, consistent
snapshots, versioned root/targets/snapshot files and timestamp.json), with targets named and
described as notsotuf's publisher does: <app>-<version>.tar.gz and <app>-<version>.patch, each with
custom.notsotuf (kind, app, version, the uncompressed tar's sha256 and length, and for a patch its
format, source and result). The tar digests are computed here from the .tar.gz files.

  metadata_api_repo.py --repo DIR --app NAME --patch-format NAME
                       --release VERSION=ARCHIVE[,PATCH] [--release ...]

The first run makes DIR/metadata, DIR/targets and DIR/keys (private keys, PEM); a later run with
the same DIR adds its releases as a new targets version (new snapshot and timestamp too).
"""

import argparse
import gzip
import hashlib
import os
import shutil
import sys
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    SPECIFICATION_VERSION,
    MetaFile,
    Metadata,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

ROLES = ("root", "targets", "snapshot", "timestamp")
EXPIRY_DAYS = {"root": 365, "targets": 90, "snapshot": 7, "timestamp": 1}


def in_days(days):
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=days)


def digest_of(data):
    return {"sha256": hashlib.sha256(data).hexdigest(), "length": len(data)}


def load_signers(keys_dir):
    signers = {}
    for role in ROLES:
        path = os.path.join(keys_dir, f"{role}.pem")
        if os.path.exists(path):
            with open(path, "rb") as f:
                signers[role] = CryptoSigner(load_pem_private_key(f.read(), None))
        else:
            signers[role] = CryptoSigner.generate_ed25519()
            with open(path, "wb") as f:
                f.write(signers[role].private_bytes)
    return signers


def write(md, repo, role, signer):
    md.signatures.clear()
    md.sign(signer)
    name = "timestamp.json" if role == "timestamp" else f"{md.signed.version}.{role}.json"
    md.to_file(os.path.join(repo, "metadata", name), JSONSerializer(compact=False))
    if role == "root":
        md.to_file(os.path.join(repo, "metadata", "root.json"), JSONSerializer(compact=False))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repo", required=True)
    p.add_argument("--app", required=True)
    p.add_argument("--patch-format", required=True)
    p.add_argument("--release", action="append", default=[])
    a = p.parse_args()

    for sub in ("metadata", "targets", "keys"):
        os.makedirs(os.path.join(a.repo, sub), exist_ok=True)
    signers = load_signers(os.path.join(a.repo, "keys"))
    meta_dir = os.path.join(a.repo, "metadata")

    if os.path.exists(os.path.join(meta_dir, "root.json")):
        root = Metadata.from_file(os.path.join(meta_dir, "root.json"))
        targets = Metadata.from_file(os.path.join(meta_dir, f"{newest(meta_dir, 'targets')}.targets.json"))
        targets.signed.version += 1
        snapshot = Metadata.from_file(os.path.join(meta_dir, f"{newest(meta_dir, 'snapshot')}.snapshot.json"))
        snapshot.signed.version += 1
        timestamp = Metadata.from_file(os.path.join(meta_dir, "timestamp.json"))
        timestamp.signed.version += 1
    else:
        # basic_repo: root lists one key per role, threshold 1, consistent snapshots.
        root = Metadata(Root(expires=in_days(EXPIRY_DAYS["root"]), consistent_snapshot=True))
        for role in ROLES:
            root.signed.add_key(signers[role].public_key, role)
        targets = Metadata(Targets(expires=in_days(EXPIRY_DAYS["targets"])))
        snapshot = Metadata(Snapshot(expires=in_days(EXPIRY_DAYS["snapshot"])))
        timestamp = Metadata(Timestamp(expires=in_days(EXPIRY_DAYS["timestamp"])))
        write(root, a.repo, "root", signers["root"])

    # Each release's archive and patch, named and described as notsotuf's publisher does.
    tars = {}
    for name, target in targets.signed.targets.items():
        meta = target.unrecognized_fields.get("custom", {}).get("notsotuf", {})
        if meta.get("kind") == "archive":
            tars[meta["version"]] = dict(meta["tar"])
    previous = max(tars, key=lambda v: [int(x) for x in v.split(".")]) if tars else None
    for spec in a.release:
        version, files = spec.split("=", 1)
        archive, _, patch = files.partition(",")
        with open(archive, "rb") as f:
            tar = digest_of(gzip.decompress(f.read()))
        entries = [
            (
                f"{a.app}-{version}.tar.gz",
                archive,
                {"kind": "archive", "app": a.app, "version": version, "tar": tar, "required": False,
                 "rollout": 100, "user": {"made_by": "python-tuf Metadata API"}},
            )
        ]
        if patch:
            entries.append(
                (
                    f"{a.app}-{version}.patch",
                    patch,
                    {"kind": "patch", "app": a.app, "version": version, "format": a.patch_format,
                     "source": {**tars[previous], "version": previous}, "result": tar},
                )
            )
        for name, path, custom in entries:
            target = TargetFile.from_file(name, path, ["sha256"])
            target.unrecognized_fields["custom"] = {"notsotuf": custom}
            targets.signed.targets[name] = target
            # consistent snapshot: targets/<sha256>.<name>
            shutil.copyfile(path, os.path.join(a.repo, "targets", f"{target.hashes['sha256']}.{name}"))
        tars[version] = tar
        previous = version

    targets.signed.expires = in_days(EXPIRY_DAYS["targets"])
    write(targets, a.repo, "targets", signers["targets"])
    snapshot.signed.meta["targets.json"] = MetaFile(version=targets.signed.version)
    snapshot.signed.expires = in_days(EXPIRY_DAYS["snapshot"])
    write(snapshot, a.repo, "snapshot", signers["snapshot"])
    timestamp.signed.snapshot_meta = MetaFile(version=snapshot.signed.version)
    timestamp.signed.expires = in_days(EXPIRY_DAYS["timestamp"])
    write(timestamp, a.repo, "timestamp", signers["timestamp"])
    print(f"spec {SPECIFICATION_VERSION}: targets v{targets.signed.version}, {len(targets.signed.targets)} targets")
    return 0


def newest(meta_dir, role):
    return max(int(f.split(".")[0]) for f in os.listdir(meta_dir) if f.endswith(f".{role}.json") and f[0].isdigit())


if __name__ == "__main__":
    sys.exit(main())
