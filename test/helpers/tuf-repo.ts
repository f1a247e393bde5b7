/**
 * A TUF repository built in memory for tests, signed with real ed25519 keys through @tufjs/models,
 * laid out as a static server would serve it (consistent snapshots):
 *   /metadata/N.root.json, /metadata/timestamp.json, /metadata/N.snapshot.json,
 *   /metadata/N.targets.json, /metadata/N.<encoded role>.json, /targets/<sha256>.<name>
 * Its state is plain and mutable; every publish builds fresh models and signs them, so a test can
 * make any mistake or attack on purpose (expired dates, old versions, too few signatures...).
 */
import { createHash, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import {
  Key,
  MetaFile,
  Metadata,
  Root,
  Signature,
  Snapshot,
  TargetFile,
  Targets,
  Timestamp,
} from '@tufjs/models';
import { Delegations } from '@tufjs/models/dist/delegations.js';
import { DelegatedRole, Role } from '@tufjs/models/dist/role.js';

export type TopRole = 'root' | 'timestamp' | 'snapshot' | 'targets';

export interface TestKey {
  readonly id: string;
  readonly key: Key;
  readonly privateKey: KeyObject;
}

export function newKey(): TestKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ format: 'der', type: 'spki' });
  const publicHex = der.subarray(der.length - 32).toString('hex');
  const id = createHash('sha256').update(publicHex).digest('hex');
  const key = new Key({ keyID: id, keyType: 'ed25519', scheme: 'ed25519', keyVal: { public: publicHex } });
  return { id, key, privateKey };
}

function signer(k: TestKey): (data: Buffer) => Signature {
  return (data) => new Signature({ keyID: k.id, sig: cryptoSign(null, data, k.privateKey).toString('hex') });
}

export function days(n: number): Date {
  return new Date(Date.now() + n * 86_400_000);
}

function iso(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

function bytesOf(md: Metadata<Root | Timestamp | Snapshot | Targets>): Uint8Array {
  return Buffer.from(JSON.stringify(md.toJSON(), null, 1));
}

export interface DelegationState {
  name: string;
  keys: TestKey[];
  threshold: number;
  paths: string[];
  terminating: boolean;
  version: number;
  expires: Date;
  targets: Map<string, { bytes: Uint8Array; custom?: Record<string, unknown> }>;
  /** The delegator's name ('targets' or another delegated role). */
  parent: string;
}

export class TestRepo {
  /** Served files by URL path ('/metadata/1.root.json'). Share it with a HostileServer. */
  readonly files = new Map<string, Uint8Array>();
  readonly keys: Record<TopRole, TestKey[]> = {
    root: [newKey()],
    timestamp: [newKey()],
    snapshot: [newKey()],
    targets: [newKey()],
  };
  readonly threshold: Record<TopRole, number> = { root: 1, timestamp: 1, snapshot: 1, targets: 1 };
  readonly expires: Record<TopRole, Date> = {
    root: days(365),
    timestamp: days(1),
    snapshot: days(7),
    targets: days(30),
  };
  readonly version: Record<TopRole, number> = { root: 1, timestamp: 1, snapshot: 1, targets: 1 };
  readonly targets = new Map<string, { bytes: Uint8Array; custom?: Record<string, unknown> }>();
  readonly delegations: DelegationState[] = [];
  consistentSnapshot = true;
  /** Signed bytes of each root version, index = version - 1. */
  readonly roots: Uint8Array[] = [];
  /** The last signed bytes of each role. */
  readonly latest = new Map<string, Uint8Array>();
  /** Root keys of the previous root version (they must co-sign the next one, spec 5.3.4). */
  #previousRootKeys: TestKey[] = [];
  #previousRootThreshold = 1;

  /** A fresh repository with root v1 and every role published at version 1. */
  static create(): TestRepo {
    const repo = new TestRepo();
    repo.publishRoot();
    repo.publishTargets();
    repo.publishSnapshot();
    repo.publishTimestamp();
    return repo;
  }

  get trustedRoot(): Uint8Array {
    return this.roots[0]!;
  }

  addTarget(path: string, bytes: Uint8Array | string, custom?: Record<string, unknown>): void {
    const b = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    this.targets.set(path, custom === undefined ? { bytes: b } : { bytes: b, custom });
    this.serveTarget(path, b);
  }

  /** Puts target bytes where a client looks for them (hash-prefixed under consistent snapshots). */
  serveTarget(path: string, bytes: Uint8Array, hashOf: Uint8Array = bytes): void {
    this.files.set(this.targetUrlPath(path, hashOf), bytes);
  }

  targetUrlPath(path: string, hashOf: Uint8Array): string {
    const parts = path.split('/');
    if (this.consistentSnapshot) {
      const h = createHash('sha256').update(hashOf).digest('hex');
      parts[parts.length - 1] = `${h}.${parts[parts.length - 1]}`;
    }
    return `/targets/${parts.map(encodeURIComponent).join('/')}`;
  }

  addDelegation(d: Partial<DelegationState> & { name: string }): DelegationState {
    const state: DelegationState = {
      keys: [newKey()],
      threshold: 1,
      paths: ['*'],
      terminating: false,
      version: 1,
      expires: days(30),
      targets: new Map(),
      parent: 'targets',
      ...d,
    };
    this.delegations.push(state);
    return state;
  }

  /** Builds, signs (by `signers`, default: the previous and current root keys) and serves root. */
  publishRoot(signers?: TestKey[]): Uint8Array {
    const keys: Record<string, Key> = {};
    const roles: Record<string, Role> = {};
    for (const role of ['root', 'timestamp', 'snapshot', 'targets'] as const) {
      for (const k of this.keys[role]) keys[k.id] = k.key;
      roles[role] = new Role({ keyIDs: this.keys[role].map((k) => k.id), threshold: this.threshold[role] });
    }
    const md = new Metadata(
      new Root({
        version: this.version.root,
        specVersion: '1.0.31',
        expires: iso(this.expires.root),
        keys,
        roles,
        consistentSnapshot: this.consistentSnapshot,
      }),
    );
    const by = signers ?? unique([...this.#previousRootKeys, ...this.keys.root]);
    for (const k of by) md.sign(signer(k));
    const bytes = bytesOf(md);
    this.roots[this.version.root - 1] = bytes;
    this.latest.set('root', bytes);
    this.files.set(`/metadata/${this.version.root}.root.json`, bytes);
    return bytes;
  }

  /**
   * Next root version with some keys replaced (spec 5.3: signed by a threshold of the old root
   * keys and of the new ones). Unset roles keep their keys.
   */
  rotateRoot(newKeys: Partial<Record<TopRole, TestKey[]>> = {}, signers?: TestKey[]): Uint8Array {
    this.#previousRootKeys = [...this.keys.root];
    this.#previousRootThreshold = this.threshold.root;
    for (const [role, ks] of Object.entries(newKeys) as [TopRole, TestKey[]][]) this.keys[role] = ks;
    this.version.root += 1;
    return this.publishRoot(signers);
  }

  get previousRootThreshold(): number {
    return this.#previousRootThreshold;
  }

  publishTargets(signers: TestKey[] = this.keys.targets): Uint8Array {
    const t = new Targets({
      version: this.version.targets,
      specVersion: '1.0.31',
      expires: iso(this.expires.targets),
      targets: targetFiles(this.targets),
      ...this.delegationsOf('targets'),
    });
    return this.#store('targets', this.version.targets, new Metadata(t), signers);
  }

  publishDelegated(name: string, signers?: TestKey[]): Uint8Array {
    const d = this.delegations.find((x) => x.name === name);
    if (d === undefined) throw new Error(`no delegation ${name}`);
    const t = new Targets({
      version: d.version,
      specVersion: '1.0.31',
      expires: iso(d.expires),
      targets: targetFiles(d.targets),
      ...this.delegationsOf(name),
    });
    return this.#store(name, d.version, new Metadata(t), signers ?? d.keys);
  }

  /** Snapshot listing the current versions, hashes and lengths of targets and every delegated role. */
  publishSnapshot(signers: TestKey[] = this.keys.snapshot): Uint8Array {
    const meta: Record<string, MetaFile> = {
      'targets.json': this.#metaFile('targets', this.version.targets),
    };
    for (const d of this.delegations) meta[`${d.name}.json`] = this.#metaFile(d.name, d.version);
    const s = new Snapshot({
      version: this.version.snapshot,
      specVersion: '1.0.31',
      expires: iso(this.expires.snapshot),
      meta,
    });
    return this.#store('snapshot', this.version.snapshot, new Metadata(s), signers);
  }

  publishTimestamp(signers: TestKey[] = this.keys.timestamp): Uint8Array {
    const t = new Timestamp({
      version: this.version.timestamp,
      specVersion: '1.0.31',
      expires: iso(this.expires.timestamp),
      snapshotMeta: this.#metaFile('snapshot', this.version.snapshot),
    });
    const md = new Metadata(t);
    for (const k of signers) md.sign(signer(k));
    const bytes = bytesOf(md);
    this.latest.set('timestamp', bytes);
    this.files.set('/metadata/timestamp.json', bytes);
    return bytes;
  }

  /** A new release of the repository: bump and publish targets (and delegations), snapshot, timestamp. */
  publishAll(): void {
    this.version.targets += 1;
    this.publishTargets();
    for (const d of this.delegations) {
      d.version += 1;
      this.publishDelegated(d.name);
    }
    this.version.snapshot += 1;
    this.publishSnapshot();
    this.version.timestamp += 1;
    this.publishTimestamp();
  }

  /** Only a new timestamp (what `notsotuf refresh` does). */
  bumpTimestamp(): void {
    this.version.timestamp += 1;
    this.publishTimestamp();
  }

  #store(role: string, version: number, md: Metadata<Snapshot | Targets>, signers: TestKey[]): Uint8Array {
    for (const k of signers) md.sign(signer(k));
    const bytes = bytesOf(md);
    this.latest.set(role, bytes);
    const name = this.consistentSnapshot
      ? `${version}.${encodeURIComponent(role)}.json`
      : `${encodeURIComponent(role)}.json`;
    this.files.set(`/metadata/${name}`, bytes);
    return bytes;
  }

  #metaFile(role: string, version: number): MetaFile {
    const bytes = this.latest.get(role);
    if (bytes === undefined) return new MetaFile({ version });
    return new MetaFile({
      version,
      length: bytes.length,
      hashes: { sha256: createHash('sha256').update(bytes).digest('hex') },
    });
  }

  private delegationsOf(parent: string): { delegations?: Delegations } {
    const children = this.delegations.filter((d) => d.parent === parent);
    if (children.length === 0) return {};
    const keys: Record<string, Key> = {};
    const roles: Record<string, DelegatedRole> = {};
    for (const d of children) {
      for (const k of d.keys) keys[k.id] = k.key;
      roles[d.name] = new DelegatedRole({
        name: d.name,
        keyIDs: d.keys.map((k) => k.id),
        threshold: d.threshold,
        terminating: d.terminating,
        paths: d.paths,
      });
    }
    return { delegations: new Delegations({ keys, roles }) };
  }
}

function targetFiles(
  m: Map<string, { bytes: Uint8Array; custom?: Record<string, unknown> }>,
): Record<string, TargetFile> {
  const out: Record<string, TargetFile> = {};
  for (const [path, { bytes, custom }] of m) {
    out[path] = new TargetFile({
      path,
      length: bytes.length,
      hashes: { sha256: createHash('sha256').update(bytes).digest('hex') },
      ...(custom === undefined ? {} : { unrecognizedFields: { custom: custom as never } }),
    });
  }
  return out;
}

function unique(keys: TestKey[]): TestKey[] {
  const seen = new Set<string>();
  return keys.filter((k) => (seen.has(k.id) ? false : (seen.add(k.id), true)));
}
