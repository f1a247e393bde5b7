/**
 * inspectMetadata (what `notsotuf status` and every editing command see): each problem it reports,
 * with the exact message the publisher reads, on the real metadata of a repository made by the
 * publisher (real keys and signatures), changed one file at a time. Written from the survivors of
 * the mutation run of src/repo/inspect-metadata.ts (docs/security.md).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { Metadata, MetadataKind } from '@tufjs/models';
import { addRelease, createKey, initRepository, loadSigner } from '../../src/repo/index.js';
import type { Problem } from '../../src/repo/index.js';
import { inspectMetadata } from '../../src/repo/inspect-metadata.js';
import { serializeMetadata } from '../../src/repo/metadata-update.js';
import { readMetadataFiles } from '../../src/repo/repository-files.js';
import { appFolder, tempDir } from './publisher-fixture.js';

const dir = await tempDir();
const config = await initRepository(dir, { app: 'demo' });
await addRelease(config, '1.0.0', await appFolder(await tempDir('notsotuf-apps-'), '1.0.0'));
const honest: ReadonlyMap<string, Buffer> = await readMetadataFiles(config.repository);
const keys = join(dir, 'keys');
const NOW = new Date();

function json(name: string): {
  signed: Record<string, unknown>;
  signatures: { keyid: string; sig: string }[];
} {
  const bytes = honest.get(name);
  assert.ok(bytes, name);
  return JSON.parse(bytes.toString('utf8')) as never;
}

/** The honest files with some replaced (a Buffer or JSON value) or removed (undefined). */
function withFiles(changes: Record<string, Buffer | object | undefined>): Map<string, Buffer> {
  const files = new Map(honest);
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) files.delete(name);
    else files.set(name, Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value)));
  }
  return files;
}

/** `name` with its signed part changed by `edit`, signed again with the key `keyName`. */
async function resigned(
  kind: MetadataKind,
  name: string,
  edit: (signed: Record<string, unknown>) => void,
  keyName: string | string[],
  from: Buffer | undefined = honest.get(name),
): Promise<Buffer> {
  assert.ok(from, name);
  const value = JSON.parse(from.toString('utf8')) as { signed: Record<string, unknown> };
  edit(value.signed);
  const md = Metadata.fromJSON(kind as MetadataKind.Root, value as never);
  md.signatures = {};
  for (const k of Array.isArray(keyName) ? keyName : [keyName]) md.sign(await loadSigner(keys, k), true);
  return serializeMetadata(md);
}

/** Root version `v` with root 1's keys and roles (or those of `from`), signed by the root key. */
function rootVersion(v: number, from?: Buffer): Promise<Buffer> {
  return resigned(
    MetadataKind.Root,
    '1.root.json',
    (s) => {
      s.version = v;
    },
    'root',
    from,
  );
}

const problemsOf = (files: ReadonlyMap<string, Buffer>, now = NOW): [string, string | undefined, string][] =>
  inspectMetadata(files, now).problems.map((p: Problem) => [p.kind, p.role, p.message]);

const tsVersion = (json('timestamp.json').signed.meta as Record<string, { version: number }>)[
  'snapshot.json'
]!.version;
const snapName = `${tsVersion}.snapshot.json`;

test('the honest repository: no problem, every role valid, signed by the keys its root lists', () => {
  const r = inspectMetadata(honest, NOW);
  assert.deepEqual(r.problems, []);
  assert.ok(r.state);
  assert.deepEqual(
    r.roles.map((s) => s.role),
    ['root', 'timestamp', 'snapshot', 'targets'],
  );
  const root = json('1.root.json').signed as { roles: Record<string, { keyids: string[] }> };
  for (const s of r.roles) {
    assert.deepEqual(
      { valid: s.validSignatures, threshold: s.threshold, missing: s.missing },
      { valid: 1, threshold: 1, missing: 0 },
      s.role,
    );
    assert.deepEqual(s.signedBy, root.roles[s.role]!.keyids, s.role);
    assert.deepEqual(s.keyIDs, root.roles[s.role]!.keyids, s.role);
    assert.equal(
      s.expires,
      json(
        s.role === 'root'
          ? '1.root.json'
          : s.role === 'timestamp'
            ? 'timestamp.json'
            : `${tsVersion}.${s.role}.json`,
      ).signed.expires as string,
    );
  }
  assert.equal(r.roles[1]!.version, json('timestamp.json').signed.version);
  assert.equal(r.state.snapshot.signed.version, tsVersion);
  assert.ok(r.state.rootBytes.equals(honest.get('1.root.json')!));
  assert.ok(r.state.snapshotBytes.equals(honest.get(snapName)!));
});

test('every role past its expiry is reported with the command that fixes it', () => {
  const later = new Date(Date.UTC(2100, 0, 1));
  const expired = problemsOf(honest, later).filter(([kind]) => kind === 'expired');
  assert.deepEqual(
    expired.map(([, role]) => role),
    ['root', 'timestamp', 'snapshot', 'targets'],
  );
  const ts = json('timestamp.json').signed.expires as string;
  assert.ok(expired.some(([, , m]) => m === `timestamp expired at ${ts} (run "notsotuf refresh")`));
});

test('a role with no signature: missing-signatures, with the count and the command to run', () => {
  const unsigned = { ...json('timestamp.json'), signatures: [] };
  const r = inspectMetadata(withFiles({ 'timestamp.json': unsigned }), NOW);
  const version = json('timestamp.json').signed.version as number;
  assert.deepEqual(
    r.problems.map((p) => [p.kind, p.role, p.message]),
    [
      [
        'missing-signatures',
        'timestamp',
        `timestamp version ${version} has 0 of 1 required signatures: 1 missing (run "notsotuf sign timestamp" with another timestamp key)`,
      ],
    ],
  );
  const ts = r.roles.find((s) => s.role === 'timestamp');
  assert.deepEqual(ts && { valid: ts.validSignatures, missing: ts.missing, signedBy: ts.signedBy }, {
    valid: 0,
    missing: 1,
    signedBy: [],
  });
  assert.ok(r.state, 'still readable: sign is there to fix it');
});

test('a signature that does not verify (file edited after signing) is corrupt, and the role is short of signatures', () => {
  const edited = json('timestamp.json');
  edited.signed.expires = '2099-01-01T00:00:00Z';
  const keyid = edited.signatures[0]!.keyid;
  const problems = problemsOf(withFiles({ 'timestamp.json': edited }));
  assert.deepEqual(problems[0], [
    'corrupt',
    'timestamp',
    `metadata/timestamp.json: the signature of key ${keyid.slice(0, 12)} does not verify (the file was edited or corrupted: restore it from a backup or from the published copy)`,
  ]);
  assert.equal(problems[1]?.[0], 'missing-signatures');
  assert.equal(problems.length, 2);
});

test('a signature by a key of another role does not count', async () => {
  const value = json('timestamp.json');
  const md = Metadata.fromJSON(MetadataKind.Timestamp, value as never);
  md.signatures = {};
  md.sign(await loadSigner(keys, 'snapshot'));
  const r = inspectMetadata(withFiles({ 'timestamp.json': serializeMetadata(md) }), NOW);
  const ts = r.roles.find((s) => s.role === 'timestamp');
  assert.equal(ts?.validSignatures, 0);
  assert.deepEqual(
    r.problems.map((p) => p.kind),
    ['missing-signatures'],
  );
});

test('a missing or unreadable file is corrupt and stops the inspection there', () => {
  const missing = inspectMetadata(withFiles({ 'timestamp.json': undefined }), NOW);
  assert.equal(missing.state, undefined);
  assert.deepEqual(
    missing.problems.map((p) => [p.kind, p.role, p.message]),
    [['corrupt', 'timestamp', 'metadata/timestamp.json is missing']],
  );
  assert.deepEqual(
    missing.roles.map((s) => s.role),
    ['root'],
  );
  const garbage = inspectMetadata(withFiles({ 'timestamp.json': Buffer.from('{ not json') }), NOW);
  assert.equal(garbage.state, undefined);
  assert.equal(garbage.problems.length, 1);
  assert.match(
    garbage.problems[0]!.message,
    /^metadata\/timestamp\.json is not valid timestamp metadata: .+/,
  );
  const snapshotGone = inspectMetadata(withFiles({ [snapName]: undefined }), NOW);
  assert.equal(snapshotGone.state, undefined);
  assert.deepEqual(
    snapshotGone.problems.map((p) => [p.kind, p.role, p.message]),
    [['corrupt', 'snapshot', `metadata/${snapName} is missing`]],
  );
  const targetsGone = inspectMetadata(withFiles({ [`${tsVersion}.targets.json`]: undefined }), NOW);
  assert.equal(targetsGone.state, undefined);
  assert.deepEqual(
    targetsGone.problems.map((p) => p.message),
    [`metadata/${tsVersion}.targets.json is missing`],
  );
});

test('no root at all: 1.root.json is missing, nothing else can be checked', () => {
  const r = inspectMetadata(withFiles({ '1.root.json': undefined, 'root.json': undefined }), NOW);
  assert.equal(r.state, undefined);
  assert.deepEqual(r.roles, []);
  assert.deepEqual(
    r.problems.map((p) => [p.kind, p.role, p.message]),
    [['corrupt', 'root', 'metadata/1.root.json is missing']],
  );
});

test('a gap in the root chain and a root file that says another version are corrupt', () => {
  const gap = inspectMetadata(
    withFiles({ '1.root.json': undefined, '2.root.json': honest.get('1.root.json') }),
    NOW,
  );
  assert.equal(gap.state, undefined);
  assert.deepEqual(
    gap.problems.map((p) => p.message),
    ['root versions are not contiguous: 1.root.json is missing', 'metadata/1.root.json is missing'],
  );
  const liar = inspectMetadata(withFiles({ '2.root.json': honest.get('1.root.json') }), NOW);
  assert.deepEqual(
    liar.problems.map((p) => [p.kind, p.role, p.message]),
    [
      ['corrupt', 'root', 'metadata/2.root.json says version 1'],
      // the chain stops at version 1, whose copy root.json is then
    ],
  );
  assert.ok(liar.state, 'root 1 is still the trusted root');
});

test('root.json that is not a copy of the newest root is inconsistent (not a trust problem)', () => {
  for (const rootJson of [undefined, Buffer.from(`${honest.get('1.root.json')!.toString('utf8')} `)]) {
    const r = inspectMetadata(withFiles({ 'root.json': rootJson }), NOW);
    assert.deepEqual(
      r.problems.map((p) => [p.kind, p.role, p.message]),
      [['inconsistent', 'root', 'metadata/root.json is not a copy of the newest root (1.root.json)']],
    );
    assert.ok(r.state);
  }
});

test('a root without consistent_snapshot is corrupt', async () => {
  const noConsistent = await resigned(
    MetadataKind.Root,
    '1.root.json',
    (s) => {
      s.consistent_snapshot = false;
    },
    'root',
  );
  assert.deepEqual(problemsOf(withFiles({ '1.root.json': noConsistent, 'root.json': noConsistent })), [
    ['corrupt', 'root', 'root does not enable consistent_snapshot'],
  ]);
});

test('a snapshot that lists no targets.json is corrupt', async () => {
  const bytes = await resigned(
    MetadataKind.Snapshot,
    snapName,
    (s) => {
      s.meta = {};
    },
    'snapshot',
  );
  // timestamp signs the snapshot's length and sha256: sign a timestamp for the new bytes too
  const ts = await resigned(
    MetadataKind.Timestamp,
    'timestamp.json',
    (s) => {
      (s.meta as Record<string, unknown>)['snapshot.json'] = {
        version: tsVersion,
        length: bytes.length,
        hashes: { sha256: createHash('sha256').update(bytes).digest('hex') },
      };
    },
    'timestamp',
  );
  const r = inspectMetadata(withFiles({ [snapName]: bytes, 'timestamp.json': ts }), NOW);
  assert.equal(r.state, undefined);
  assert.deepEqual(
    r.problems.map((p) => [p.kind, p.role, p.message]),
    [['corrupt', 'snapshot', `metadata/${snapName} lists no targets.json`]],
  );
});

test('a listed file that says another version than the one listed is corrupt', () => {
  const older = `${tsVersion - 1}.targets.json`;
  assert.ok(honest.has(older), older);
  const problems = problemsOf(withFiles({ [`${tsVersion}.targets.json`]: honest.get(older) }));
  assert.deepEqual(problems, [
    ['corrupt', 'targets', `metadata/${tsVersion}.targets.json says version ${tsVersion - 1}`],
  ]);
});

test('one broken signature on a root seen by two checks is reported once', async () => {
  // Root 2: the same keys, signed by the root key; then edited, so its signature breaks for both the
  // check by root 1 and its own check.
  const root2 = await rootVersion(2);
  const edited = JSON.parse(root2.toString('utf8')) as { signed: { expires: string } };
  edited.signed.expires = '2099-01-01T00:00:00Z';
  const problems = problemsOf(withFiles({ '2.root.json': edited, 'root.json': edited }));
  const broken = problems.filter(([, , m]) => m.includes('does not verify'));
  assert.equal(broken.length, 1, JSON.stringify(problems));
  assert.ok(
    problems.some(
      ([kind, , m]) =>
        kind === 'missing-signatures' &&
        m.startsWith('metadata/2.root.json has 0 of 1 signatures required by root version 1: 1 missing'),
    ),
    JSON.stringify(problems),
  );
});

/** Root versions 2..n with the same keys as root 1, each signed by the root key. */
async function rootsUpTo(n: number): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (let v = 2; v <= n; v++) {
    out.set(`${v}.root.json`, await rootVersion(v));
  }
  return out;
}

test('a chain of ten roots is read in version order to the tenth, whatever the order of the files', async () => {
  const roots = await rootsUpTo(10);
  // 10 before 2 (as a sorted folder listing has it), then the rest
  const files = new Map<string, Buffer>();
  for (const name of ['10.root.json', ...[...roots.keys()].filter((n) => n !== '10.root.json')])
    files.set(name, roots.get(name)!);
  for (const [name, bytes] of honest) if (name !== 'root.json') files.set(name, bytes);
  files.set('root.json', roots.get('10.root.json')!);
  const r = inspectMetadata(files, NOW);
  assert.deepEqual(r.problems, []);
  assert.equal(r.state?.root.signed.version, 10);
  assert.equal(r.state?.roots.length, 10);
  assert.equal(r.roles[0]?.version, 10);
});

test('files that only look like roots (copy-2.root.json, 2.root.json.bak) are not part of the chain', () => {
  const root1 = honest.get('1.root.json')!;
  const r = inspectMetadata(withFiles({ 'copy-2.root.json': root1, '2.root.json.bak': root1 }), NOW);
  assert.deepEqual(r.problems, []);
  assert.equal(r.state?.roots.length, 1);
});

test("a new root short of the previous root's threshold says how many signatures are missing", async () => {
  // Root 1 wants 2 of {root key, timestamp key} for the root role; root 2 is signed by one of them.
  const rootKeyId = json('1.root.json').signatures[0]!.keyid;
  const tsKeyId = json('timestamp.json').signatures[0]!.keyid;
  const twoOfTwo = (s: Record<string, unknown>): void => {
    (s.roles as Record<string, unknown>).root = { keyids: [rootKeyId, tsKeyId], threshold: 2 };
  };
  const root1 = await resigned(MetadataKind.Root, '1.root.json', twoOfTwo, ['root', 'timestamp']);
  const root2 = await rootVersion(2, root1);
  const problems = problemsOf(withFiles({ '1.root.json': root1, '2.root.json': root2, 'root.json': root2 }));
  assert.ok(
    problems.some(
      ([kind, role, m]) =>
        kind === 'missing-signatures' &&
        role === 'root' &&
        m ===
          'metadata/2.root.json has 1 of 2 signatures required by root version 1: 1 missing (clients will refuse it; run "notsotuf sign root" with the previous root keys)',
    ),
    JSON.stringify(problems),
  );
});

test('the newest root short of its own threshold is reported once, as its role status', async () => {
  // Root 2 hands the root role to a new key but is signed only by the old one.
  const newKey = await createKey(keys, 'new-root');
  const root2 = await resigned(
    MetadataKind.Root,
    '1.root.json',
    (s) => {
      s.version = 2;
      (s.keys as Record<string, unknown>)[newKey.key.keyID] = newKey.key.toJSON();
      (s.roles as Record<string, unknown>).root = { keyids: [newKey.key.keyID], threshold: 1 };
    },
    'root',
  );
  assert.deepEqual(problemsOf(withFiles({ '2.root.json': root2, 'root.json': root2 })), [
    [
      'missing-signatures',
      'root',
      'root version 2 has 0 of 1 required signatures: 1 missing (run "notsotuf sign root" with another root key)',
    ],
  ]);
});
