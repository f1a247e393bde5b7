/**
 * `notsotuf tufup bridge`: publishes one release into an existing tufup repository, signed with
 * that repository's own keys, so that apps in the field still on tufup's client install it (the
 * bridge release of docs/migrating.md, which carries the notsotuf client). Full archive only:
 * tufup's clients apply bsdiff4 patches, which we do not make; with no patch for the new version,
 * a tufup client downloads the archive.
 *
 * What is written follows tufup 0.10's repository layout: no consistent snapshots, the archive as
 * `targets/<app>-<version>.tar.gz` with `custom: {user, tufup: {required}}`, and unversioned
 * `targets.json`, `snapshot.json` and `timestamp.json` (written in that order, each atomically,
 * the archive first). Keys are tufup's unencrypted key files (securesystemslib's JSON with
 * `keyval.private`); encrypted ones are refused with a message saying to use tufup's own tools.
 */
import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Metadata,
  MetadataKind,
  MetaFile,
  Root,
  Signature,
  Snapshot,
  TargetFile,
  Targets,
  Timestamp,
} from '@tufjs/models';
import { packFolder } from '../archive/index.js';
import { checkAppName } from '../core/target-name.js';
import { compareVersions, parseVersion } from '../core/version.js';
import { DataError, UsageError, messageOf } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';

const DAY_MS = 86_400_000;

export interface TufupBridgeOptions {
  /** The tufup repository folder (holding metadata/ and targets/). */
  readonly repository: string;
  /** tufup's keystore folder (key files named after the keys, public ones with `.pub`). */
  readonly keys: string;
  readonly app: string;
  readonly version: string;
  /** The app folder of the bridge release. */
  readonly folder: string;
  readonly required?: boolean;
  /** Days until the new targets, snapshot and timestamp expire (tufup's defaults: 7, 7, 1). */
  readonly expiryDays?: { targets: number; snapshot: number; timestamp: number };
  readonly now?: Date;
}

export interface TufupBridgeResult {
  readonly archive: string;
  readonly length: number;
  readonly targetsVersion: number;
}

type AnyMetadata = Metadata<Root> | Metadata<Targets> | Metadata<Snapshot> | Metadata<Timestamp>;

type MetadataJson = Parameters<typeof Metadata.fromJSON>[1];

async function readJson(dir: string, role: string): Promise<{ path: string; json: MetadataJson }> {
  const path = join(dir, `${role}.json`);
  try {
    return { path, json: JSON.parse(await readFile(path, 'utf8')) as MetadataJson };
  } catch (cause) {
    throw new UsageError(
      'NOT_A_TUFUP_REPOSITORY',
      `${path} cannot be read as JSON (${messageOf(cause)}): give the tufup repository folder (the one holding metadata/ and targets/).`,
      { cause },
    );
  }
}

function parsed<T>(path: string, parse: () => T): T {
  try {
    return parse();
  } catch (cause) {
    throw new DataError('BAD_METADATA', `${path} is not valid TUF metadata: ${messageOf(cause)}`, { cause });
  }
}

interface TufupKey {
  readonly keyID: string;
  readonly privateKey: KeyObject;
}

/** tufup's private key files in `dir` whose public key is one the root lists, by root key id. */
async function loadKeys(dir: string, root: Root): Promise<Map<string, TufupKey>> {
  const byPublic = new Map<string, string>();
  for (const [id, key] of Object.entries(root.keys)) {
    const pub = key.keyVal['public'];
    if (typeof pub === 'string') byPublic.set(pub, id);
  }
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => !n.endsWith('.pub'));
  } catch (cause) {
    throw new UsageError('NO_KEYS', `tufup's key folder ${dir} cannot be read: ${messageOf(cause)}`, {
      cause,
    });
  }
  const keys = new Map<string, TufupKey>();
  for (const name of names) {
    const text = await readFile(join(dir, name), 'utf8').catch(() => '');
    let json: { keytype?: unknown; keyval?: { public?: unknown; private?: unknown } };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      if (text.includes('@@@@')) {
        throw new UsageError(
          'ENCRYPTED_TUFUP_KEY',
          `${join(dir, name)} is an encrypted tufup key, which notsotuf does not read: publish the bridge with tufup itself ("tufup targets add VERSION FOLDER KEYDIR"), see docs/migrating.md.`,
        );
      }
      continue; // not a key file
    }
    const pub = json.keyval?.public;
    const priv = json.keyval?.private;
    if (json.keytype !== 'ed25519' || typeof pub !== 'string' || typeof priv !== 'string') continue;
    const keyID = byPublic.get(pub);
    if (keyID === undefined) continue;
    const privateKey = createPrivateKey({
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        d: Buffer.from(priv, 'hex').toString('base64url'),
        x: Buffer.from(pub, 'hex').toString('base64url'),
      },
      format: 'jwk',
    });
    keys.set(keyID, { keyID, privateKey });
  }
  return keys;
}

function signRole(md: AnyMetadata, role: string, root: Root, keys: Map<string, TufupKey>): void {
  const spec = root.roles[role];
  if (spec === undefined) throw new DataError('BAD_METADATA', `the tufup root has no ${role} role`);
  let count = 0;
  for (const id of spec.keyIDs) {
    const key = keys.get(id);
    if (key === undefined) continue;
    md.sign(
      (data) =>
        new Signature({ keyID: key.keyID, sig: cryptoSign(null, data, key.privateKey).toString('hex') }),
      true,
    );
    count += 1;
  }
  if (count < spec.threshold)
    throw new UsageError(
      'MISSING_KEY',
      `${role} needs ${spec.threshold} signature(s) but only ${count} of its keys are in the tufup key folder: nothing was written.`,
    );
}

function iso(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

/** The newest archive version of `app` that the tufup targets list, if any. */
function latestVersion(targets: Targets, app: string): string | undefined {
  let latest: string | undefined;
  for (const path of Object.keys(targets.targets)) {
    const m = /^(.+)-([^-]+)\.tar\.gz$/.exec(path);
    if (m === null || m[1] !== app) continue;
    try {
      parseVersion(m[2]!);
    } catch {
      continue;
    }
    if (latest === undefined || compareVersions(m[2]!, latest) > 0) latest = m[2]!;
  }
  return latest;
}

/** The four top-level roles of the tufup repository in `metaDir`, parsed (not verified). */
async function readTufupMetadata(metaDir: string): Promise<{
  root: Metadata<Root>;
  targets: Targets;
  snapshot: Snapshot;
  timestamp: Timestamp;
}> {
  const r = await readJson(metaDir, 'root');
  const root = parsed(r.path, () => Metadata.fromJSON(MetadataKind.Root, r.json));
  if (root.signed.consistentSnapshot)
    throw new UsageError(
      'NOT_A_TUFUP_REPOSITORY',
      `${r.path} asks for consistent snapshots, which tufup does not write: this is not a tufup repository.`,
    );
  const t = await readJson(metaDir, 'targets');
  const targets = parsed(t.path, () => Metadata.fromJSON(MetadataKind.Targets, t.json)).signed;
  const s = await readJson(metaDir, 'snapshot');
  const snapshot = parsed(s.path, () => Metadata.fromJSON(MetadataKind.Snapshot, s.json)).signed;
  const ts = await readJson(metaDir, 'timestamp');
  const timestamp = parsed(ts.path, () => Metadata.fromJSON(MetadataKind.Timestamp, ts.json)).signed;
  return { root, targets, snapshot, timestamp };
}

/**
 * The next targets (with `target` added), snapshot and timestamp, unsigned, in tufup's layout (no
 * hashes or lengths in the snapshot and timestamp meta, as tufup writes them).
 */
function nextTufupMetadata(
  old: { targets: Targets; snapshot: Snapshot; timestamp: Timestamp },
  target: TargetFile,
  expires: { targets: string; snapshot: string; timestamp: string },
): { targets: Metadata<Targets>; snapshot: Metadata<Snapshot>; timestamp: Metadata<Timestamp> } {
  const targets = new Metadata(
    new Targets({
      version: old.targets.version + 1,
      specVersion: old.targets.specVersion,
      expires: expires.targets,
      targets: { ...old.targets.targets, [target.path]: target },
      ...(old.targets.delegations !== undefined ? { delegations: old.targets.delegations } : {}),
      unrecognizedFields: old.targets.unrecognizedFields,
    }),
  );
  const snapshot = new Metadata(
    new Snapshot({
      version: old.snapshot.version + 1,
      specVersion: old.snapshot.specVersion,
      expires: expires.snapshot,
      meta: { ...old.snapshot.meta, 'targets.json': new MetaFile({ version: targets.signed.version }) },
      unrecognizedFields: old.snapshot.unrecognizedFields,
    }),
  );
  const timestamp = new Metadata(
    new Timestamp({
      version: old.timestamp.version + 1,
      specVersion: old.timestamp.specVersion,
      expires: expires.timestamp,
      snapshotMeta: new MetaFile({ version: snapshot.signed.version }),
      unrecognizedFields: old.timestamp.unrecognizedFields,
    }),
  );
  return { targets, snapshot, timestamp };
}

export async function publishTufupBridge(options: TufupBridgeOptions): Promise<TufupBridgeResult> {
  checkAppName(options.app);
  const version = parseVersion(options.version).text;
  const now = options.now ?? new Date();
  const days = options.expiryDays ?? { targets: 7, snapshot: 7, timestamp: 1 };
  const metaDir = join(options.repository, 'metadata');
  const old = await readTufupMetadata(metaDir);
  const root = old.root;
  const name = `${options.app}-${version}.tar.gz`;
  const latest = latestVersion(old.targets, options.app);
  if (latest !== undefined && compareVersions(version, latest) <= 0)
    throw new UsageError(
      'VERSION_NOT_NEWER',
      `${options.app} ${version} is not newer than ${latest}, the latest release in the tufup repository.`,
    );
  const keys = await loadKeys(options.keys, root.signed);
  const archive = join(options.repository, 'targets', name);
  if (existsSync(archive))
    throw new UsageError('TARGET_EXISTS', `${archive} exists already: nothing was written.`);

  const packed = await packFolder(options.folder, archive);
  const at = (d: number) => iso(new Date(now.getTime() + d * DAY_MS));
  const target = new TargetFile({
    path: name,
    length: packed.archive.length,
    hashes: { sha256: packed.archive.sha256 },
    unrecognizedFields: { custom: { user: null, tufup: { required: options.required ?? false } } },
  });
  const { targets, snapshot, timestamp } = nextTufupMetadata(old, target, {
    targets: at(days.targets),
    snapshot: at(days.snapshot),
    timestamp: at(days.timestamp),
  });
  try {
    // Sign all three before writing any: a missing key leaves the repository as it was.
    signRole(targets, 'targets', root.signed, keys);
    signRole(snapshot, 'snapshot', root.signed, keys);
    signRole(timestamp, 'timestamp', root.signed, keys);
  } catch (error) {
    await rm(archive, { force: true });
    throw error;
  }
  for (const [role, md] of [
    ['targets', targets],
    ['snapshot', snapshot],
    ['timestamp', timestamp],
  ] as const)
    await writeFileAtomic(join(metaDir, `${role}.json`), `${JSON.stringify(md.toJSON(), null, 1)}\n`);
  return { archive, length: packed.archive.length, targetsVersion: targets.signed.version };
}
