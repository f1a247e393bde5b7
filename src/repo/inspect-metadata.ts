import { Metadata, MetadataKind } from '@tufjs/models';
import type { Root, Snapshot, Targets, Timestamp } from '@tufjs/models';
import { messageOf } from '../errors.js';
import { digestBytes } from '../io/digest.js';
import type { RoleName } from './roles.js';

/**
 * Verifies the metadata of a repository against its own trusted root chain, from bytes only (the
 * caller reads the files): the root chain from 1.root.json (TUF spec 5.3: each new root signed by a
 * threshold of the previous root's keys and of its own), then timestamp, snapshot and targets
 * (5.4-5.6: signatures, thresholds, versions, lengths and hashes where listed, expiry).
 *
 * It never throws on bad data: it returns every problem it finds, so `status` can list them all and
 * editing commands can decide which ones block them (a corrupt file does; a missing signature, which
 * `sign` is there to add, or an expired role, which `refresh` is there to fix, do not).
 */

export type ProblemKind = 'corrupt' | 'missing-signatures' | 'expired' | 'inconsistent';

export interface Problem {
  readonly kind: ProblemKind;
  readonly role?: RoleName;
  readonly message: string;
}

export interface RoleStatus {
  readonly role: RoleName;
  readonly version: number;
  readonly expires: string;
  readonly validSignatures: number;
  readonly threshold: number;
  /** Signatures still needed to reach the threshold (0 when valid). */
  readonly missing: number;
  /** Key ids that signed validly. */
  readonly signedBy: readonly string[];
  /** Key ids the trusted root lists for this role. */
  readonly keyIDs: readonly string[];
}

export interface MetadataState {
  /** Roots 1..N as read (the chain); the last is the trusted root. */
  readonly roots: readonly Metadata<Root>[];
  readonly root: Metadata<Root>;
  readonly timestamp: Metadata<Timestamp>;
  readonly snapshot: Metadata<Snapshot>;
  readonly targets: Metadata<Targets>;
  /** The bytes of the snapshot file (for timestamp's length and hash). */
  readonly snapshotBytes: Buffer;
  /** The bytes of the newest N.root.json (root.json must be a copy). */
  readonly rootBytes: Buffer;
}

export interface Inspection {
  /** Undefined when the metadata is too broken to be read at all. */
  readonly state: MetadataState | undefined;
  readonly roles: readonly RoleStatus[];
  readonly problems: readonly Problem[];
}

/** Metadata files by name (`1.root.json`, `timestamp.json`, ...). */
export type MetadataFiles = ReadonlyMap<string, Buffer>;

type AnyMetadata = Metadata<Root> | Metadata<Targets> | Metadata<Snapshot> | Metadata<Timestamp>;

function parse<T extends AnyMetadata>(
  kind: MetadataKind,
  name: string,
  bytes: Buffer | undefined,
  problems: Problem[],
  role: RoleName,
): T | undefined {
  if (bytes === undefined) {
    problems.push({ kind: 'corrupt', role, message: `metadata/${name} is missing` });
    return undefined;
  }
  try {
    const json = JSON.parse(bytes.toString('utf8')) as Parameters<typeof Metadata.fromJSON>[1];
    return Metadata.fromJSON(kind as MetadataKind.Root, json) as unknown as T;
  } catch (cause) {
    problems.push({
      kind: 'corrupt',
      role,
      message: `metadata/${name} is not valid ${role} metadata: ${messageOf(cause)}`,
    });
    return undefined;
  }
}

/**
 * Counts the valid signatures on `md` by the keys `signer` (a root) gives `role`. A signature that
 * claims a key of the role but does not verify means the file was edited or corrupted.
 */
export function countSignatures(
  signer: Root,
  role: RoleName,
  md: AnyMetadata,
  name: string,
  problems: Problem[] | undefined,
): { valid: string[]; threshold: number } {
  const r = signer.roles[role];
  if (r === undefined) {
    problems?.push({ kind: 'corrupt', role, message: `root has no "${role}" role` });
    return { valid: [], threshold: 1 };
  }
  const valid: string[] = [];
  for (const keyId of Object.keys(md.signatures)) {
    if (!r.keyIDs.includes(keyId)) continue;
    const key = signer.keys[keyId];
    if (key === undefined) continue;
    try {
      key.verifySignature(md);
      valid.push(keyId);
    } catch {
      problems?.push({
        kind: 'corrupt',
        role,
        message: `metadata/${name}: the signature of key ${keyId.slice(0, 12)} does not verify (the file was edited or corrupted: restore it from a backup or from the published copy)`,
      });
    }
  }
  return { valid, threshold: r.threshold };
}

/** The bytes of a file against the length and sha256 listed for it; a difference is a problem. */
function checkMetaFile(
  name: string,
  bytes: Buffer,
  length: number | undefined,
  hashes: Record<string, string> | undefined,
  problems: Problem[],
  role: RoleName,
): void {
  if (length !== undefined && bytes.length !== length) {
    problems.push({
      kind: 'corrupt',
      role,
      message: `metadata/${name} is ${bytes.length} bytes, signed length is ${length}`,
    });
    return; // other bytes: one problem is enough
  }
  const want = hashes?.sha256;
  if (want !== undefined && digestBytes(bytes).sha256 !== want) {
    problems.push({ kind: 'corrupt', role, message: `metadata/${name} does not match its signed sha256` });
  }
}

/** The same message can come from two checks (a bad signature seen by the old and the new root). */
function unique(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => (seen.has(p.message) ? false : (seen.add(p.message), true)));
}

/**
 * A role that another lists by version, length and hashes (snapshot in timestamp, targets in
 * snapshot; TUF spec 5.5, 5.6): its `<version>.<role>.json` is read, checked against what lists it,
 * and its signatures counted. Undefined when it is missing or unreadable (a problem says why).
 */
function listedRole<T extends Snapshot | Targets>(
  kind: MetadataKind.Snapshot | MetadataKind.Targets,
  role: 'snapshot' | 'targets',
  listed: { version: number; length?: number; hashes?: Record<string, string> },
  signer: Root,
  files: MetadataFiles,
  problems: Problem[],
): { metadata: Metadata<T>; bytes: Buffer; valid: string[]; threshold: number } | undefined {
  const name = `${listed.version}.${role}.json`;
  const bytes = files.get(name);
  const parsed = parse<Metadata<Snapshot> | Metadata<Targets>>(kind, name, bytes, problems, role);
  if (parsed === undefined || bytes === undefined) return undefined;
  // parse() checked the kind: a Snapshot kind gives snapshot metadata, a Targets kind targets.
  const metadata = parsed as Metadata<T>;
  checkMetaFile(name, bytes, listed.length, listed.hashes, problems, role);
  if (metadata.signed.version !== listed.version) {
    problems.push({
      kind: 'corrupt',
      role,
      message: `metadata/${name} says version ${metadata.signed.version}`,
    });
  }
  return { metadata, bytes, ...countSignatures(signer, role, parsed, name, problems) };
}

/**
 * The status of a role signed by `valid` of the `threshold` keys the trusted root gives it; a
 * missing signature and an expired role are problems too.
 */
function roleStatus(
  root: Root,
  role: RoleName,
  md: AnyMetadata,
  { valid, threshold }: { valid: string[]; threshold: number },
  now: Date,
  problems: Problem[],
): RoleStatus {
  const missing = Math.max(0, threshold - valid.length);
  if (missing > 0) {
    problems.push({
      kind: 'missing-signatures',
      role,
      message: `${role} version ${md.signed.version} has ${valid.length} of ${threshold} required signatures: ${missing} missing (run "notsotuf sign ${role}" with another ${role} key)`,
    });
  }
  if (md.signed.isExpired(now)) {
    problems.push({
      kind: 'expired',
      role,
      message: `${role} expired at ${md.signed.expires} (run "notsotuf refresh")`,
    });
  }
  return {
    role,
    version: md.signed.version,
    expires: md.signed.expires,
    validSignatures: valid.length,
    threshold,
    missing,
    signedBy: valid,
    keyIDs: [...(root.roles[role]?.keyIDs ?? [])],
  };
}

/** The versions N of the `N.root.json` files, ascending; a gap in 1..N is a problem. */
function rootVersions(files: MetadataFiles, problems: Problem[]): number[] {
  const versions = [...files.keys()]
    .map((n) => /^(\d+)\.root\.json$/.exec(n)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const gap = versions.findIndex((v, i) => v !== i + 1);
  if (gap >= 0) {
    problems.push({
      kind: 'corrupt',
      role: 'root',
      message: `root versions are not contiguous: ${gap + 1}.root.json is missing`,
    });
  }
  return versions;
}

/**
 * Root chain (TUF 5.3): 1.root.json is trusted as is (it is what clients ship with); each next
 * version must be signed by a threshold of the previous root's keys and of its own. Returns the
 * roots read, up to the first that is missing, unreadable or of the wrong version.
 */
function rootChain(files: MetadataFiles, problems: Problem[]): Metadata<Root>[] {
  const versions = rootVersions(files, problems);
  const lastRoot = versions[versions.length - 1] ?? 0;
  const roots: Metadata<Root>[] = [];
  for (let v = 1; v <= lastRoot; v++) {
    const name = `${v}.root.json`;
    const md = parse<Metadata<Root>>(MetadataKind.Root, name, files.get(name), problems, 'root');
    if (md === undefined) break;
    if (md.signed.version !== v) {
      problems.push({
        kind: 'corrupt',
        role: 'root',
        message: `metadata/${name} says version ${md.signed.version}`,
      });
      break;
    }
    const prev = roots[roots.length - 1];
    if (prev !== undefined) {
      const old = countSignatures(prev.signed, 'root', md, name, problems);
      if (old.valid.length < old.threshold) {
        problems.push({
          kind: 'missing-signatures',
          role: 'root',
          message: `metadata/${name} has ${old.valid.length} of ${old.threshold} signatures required by root version ${v - 1}: ${old.threshold - old.valid.length} missing (clients will refuse it; run "notsotuf sign root" with the previous root keys)`,
        });
      }
    }
    // Every root in the chain must also meet its own threshold (the newest has a role status).
    if (v < lastRoot) checkOwnThreshold(md, name, problems);
    roots.push(md);
  }
  if (lastRoot === 0)
    problems.push({ kind: 'corrupt', role: 'root', message: 'metadata/1.root.json is missing' });
  return roots;
}

function checkOwnThreshold(md: Metadata<Root>, name: string, problems: Problem[]): void {
  const self = countSignatures(md.signed, 'root', md, name, problems);
  if (self.valid.length < self.threshold) {
    problems.push({
      kind: 'missing-signatures',
      role: 'root',
      message: `metadata/${name} has ${self.valid.length} of its own ${self.threshold} required root signatures: clients walking the root chain will refuse it`,
    });
  }
}

/**
 * The newest root enables consistent snapshots and root.json is a copy of it. Returns the bytes of
 * the newest `N.root.json` (undefined when it is missing).
 */
function checkNewestRoot(
  root: Metadata<Root>,
  files: MetadataFiles,
  problems: Problem[],
): Buffer | undefined {
  if (!root.signed.consistentSnapshot) {
    problems.push({ kind: 'corrupt', role: 'root', message: 'root does not enable consistent_snapshot' });
  }
  const rootJson = files.get('root.json');
  const lastRootBytes = files.get(`${root.signed.version}.root.json`);
  if (lastRootBytes === undefined) return undefined;
  if (rootJson === undefined || !rootJson.equals(lastRootBytes)) {
    // Not a trust problem (clients read N.root.json), and the next command that writes fixes it.
    problems.push({
      kind: 'inconsistent',
      role: 'root',
      message: `metadata/root.json is not a copy of the newest root (${root.signed.version}.root.json)`,
    });
  }
  return lastRootBytes;
}

export function inspectMetadata(files: MetadataFiles, now: Date): Inspection {
  const problems: Problem[] = [];
  const roles: RoleStatus[] = [];
  const result = (state?: MetadataState): Inspection => ({ state, roles, problems: unique(problems) });

  const roots = rootChain(files, problems);
  const root = roots[roots.length - 1];
  if (root === undefined) return result();
  const trusted = root.signed;
  const record = (role: RoleName, md: AnyMetadata, counted: { valid: string[]; threshold: number }): void => {
    roles.push(roleStatus(trusted, role, md, counted, now, problems));
  };
  const rootName = `${trusted.version}.root.json`;
  record('root', root, countSignatures(trusted, 'root', root, rootName, problems));
  const rootBytes = checkNewestRoot(root, files, problems);
  if (rootBytes === undefined) return result();

  // Timestamp (5.4), snapshot (5.5), targets (5.6).
  const tsName = 'timestamp.json';
  const timestamp = parse<Metadata<Timestamp>>(
    MetadataKind.Timestamp,
    tsName,
    files.get(tsName),
    problems,
    'timestamp',
  );
  if (timestamp === undefined) return result();
  record('timestamp', timestamp, countSignatures(trusted, 'timestamp', timestamp, tsName, problems));

  const snapMeta = timestamp.signed.snapshotMeta;
  const snap = listedRole<Snapshot>(MetadataKind.Snapshot, 'snapshot', snapMeta, trusted, files, problems);
  if (snap === undefined) return result();
  const { metadata: snapshot, bytes: snapshotBytes } = snap;
  record('snapshot', snapshot, snap);

  const targetsMeta = snapshot.signed.meta['targets.json'];
  if (targetsMeta === undefined) {
    problems.push({
      kind: 'corrupt',
      role: 'snapshot',
      message: `metadata/${snapMeta.version}.snapshot.json lists no targets.json`,
    });
    return result();
  }
  const tg = listedRole<Targets>(MetadataKind.Targets, 'targets', targetsMeta, trusted, files, problems);
  if (tg === undefined) return result();
  const targets = tg.metadata;
  record('targets', targets, tg);

  return result({ roots, root, timestamp, snapshot, targets, snapshotBytes, rootBytes });
}
