import { MetaFile, Metadata, Snapshot, Targets, Timestamp } from '@tufjs/models';
import type { Key, Root, TargetFile } from '@tufjs/models';
import { buildRoot, rolesOf } from './root-builder.js';
import type { RoleSpec } from './root-builder.js';
import { expiresAt } from './expiry.js';
import type { Expiry } from './expiry.js';
import type { RoleName } from './roles.js';
import type { MetadataState } from './inspect-metadata.js';
import { signersFor } from './keyring.js';
import type { Keyring } from './keyring.js';
import type { Signer } from './keys.js';
import type { StagedWrite } from './repository-writer.js';
import { digestBytes } from '../io/digest.js';

/**
 * New versions of metadata, signed. Any change bumps the changed role's version and re-signs what
 * depends on it: a new targets means a new snapshot and timestamp; a new root means new snapshot and
 * timestamp too (and a new targets when the targets keys changed).
 */

/** The bytes we store for a metadata file. Signatures cover the canonical form, not these bytes. */
export function serializeMetadata(md: Metadata<Root | Targets | Snapshot | Timestamp>): Buffer {
  return Buffer.from(`${JSON.stringify(md.toJSON(), null, 2)}\n`);
}

function signAll(md: Metadata<Root | Targets | Snapshot | Timestamp>, signers: readonly Signer[]): void {
  for (const s of signers) md.sign(s, true);
}

export function nextRoot(
  root: Root,
  now: Date,
  expiry: Expiry,
  change: { keys?: Readonly<Record<string, Key>>; roles?: Readonly<Record<RoleName, RoleSpec>> } = {},
): Root {
  return buildRoot({
    version: root.version + 1,
    specVersion: root.specVersion,
    expires: expiresAt(now, expiry.root),
    keys: change.keys ?? root.keys,
    roles: change.roles ?? rolesOf(root),
  });
}

export function nextTargets(
  targets: Targets,
  now: Date,
  expiry: Expiry,
  files?: Record<string, TargetFile>,
): Targets {
  return new Targets({
    version: targets.version + 1,
    specVersion: targets.specVersion,
    expires: expiresAt(now, expiry.targets),
    targets: files ?? targets.targets,
  });
}

export interface UpdateRequest {
  readonly state: MetadataState;
  readonly now: Date;
  readonly expiry: Expiry;
  readonly keyring: Keyring;
  /** A new root (its version must be the current one + 1). */
  readonly root?: Root;
  /** A new targets (its version must be the current one + 1). */
  readonly targets?: Targets;
}

export interface UpdateResult {
  readonly writes: StagedWrite[];
  readonly root: Metadata<Root>;
  readonly targets: Metadata<Targets>;
  readonly snapshot: Metadata<Snapshot>;
  readonly timestamp: Metadata<Timestamp>;
}

function sameKeys(a: Root, b: Root, role: RoleName): boolean {
  const x = a.roles[role];
  const y = b.roles[role];
  return (
    x !== undefined &&
    y !== undefined &&
    x.threshold === y.threshold &&
    [...x.keyIDs].sort().join() === [...y.keyIDs].sort().join()
  );
}

/**
 * Builds and signs the new metadata for one change. Signers are looked up before anything is
 * built, so a missing key or a wrong passphrase fails before any work.
 */
export async function buildUpdate(req: UpdateRequest): Promise<UpdateResult> {
  const { state, now, expiry, keyring } = req;
  const writes: StagedWrite[] = [];
  let root = state.root;
  if (req.root !== undefined) {
    // A new root is signed by the keys of the old root role and of the new one (TUF 5.3.4), so
    // clients holding the old root can follow the chain.
    const md = new Metadata(req.root);
    signAll(md, await signersFor(keyring, [state.root.signed, req.root], 'root'));
    const bytes = serializeMetadata(md);
    writes.push(
      { rel: `metadata/${req.root.version}.root.json`, bytes },
      { rel: 'metadata/root.json', bytes },
    );
    root = md;
  } else {
    // Keeps root.json a copy of the newest root, even after an interrupted earlier write.
    writes.push({ rel: 'metadata/root.json', bytes: state.rootBytes });
  }
  let targetsSigned = req.targets;
  if (
    targetsSigned === undefined &&
    req.root !== undefined &&
    !sameKeys(state.root.signed, root.signed, 'targets')
  ) {
    targetsSigned = nextTargets(state.targets.signed, now, expiry);
  }
  let targets = state.targets;
  if (targetsSigned !== undefined) {
    const md = new Metadata(targetsSigned);
    signAll(md, await signersFor(keyring, [root.signed], 'targets'));
    writes.push({ rel: `metadata/${targetsSigned.version}.targets.json`, bytes: serializeMetadata(md) });
    targets = md;
  }
  const snapshotSigners = await signersFor(keyring, [root.signed], 'snapshot');
  const timestampSigners = await signersFor(keyring, [root.signed], 'timestamp');

  const snapshot = new Metadata(
    new Snapshot({
      version: state.snapshot.signed.version + 1,
      specVersion: state.snapshot.signed.specVersion,
      expires: expiresAt(now, expiry.snapshot),
      // Version only (TUF allows it): adding a second signature to targets with `sign` then
      // needs no new snapshot.
      meta: { 'targets.json': new MetaFile({ version: targets.signed.version }) },
    }),
  );
  signAll(snapshot, snapshotSigners);
  const snapshotBytes = serializeMetadata(snapshot);
  writes.push({ rel: `metadata/${snapshot.signed.version}.snapshot.json`, bytes: snapshotBytes });
  const timestamp = makeTimestamp(
    state.timestamp.signed,
    snapshot.signed.version,
    snapshotBytes,
    now,
    expiry,
  );
  signAll(timestamp, timestampSigners);
  writes.push({ rel: 'metadata/timestamp.json', bytes: serializeMetadata(timestamp) });
  return { writes, root, targets, snapshot, timestamp };
}

export function makeTimestamp(
  previous: { readonly version: number; readonly specVersion: string },
  snapshotVersion: number,
  snapshotBytes: Buffer,
  now: Date,
  expiry: Expiry,
): Metadata<Timestamp> {
  return new Metadata(
    new Timestamp({
      version: previous.version + 1,
      specVersion: previous.specVersion,
      expires: expiresAt(now, expiry.timestamp),
      snapshotMeta: new MetaFile({
        version: snapshotVersion,
        length: snapshotBytes.length,
        hashes: { sha256: digestBytes(snapshotBytes).sha256 },
      }),
    }),
  );
}
