/**
 * `notsotuf status` (verifyRepository / inspectMetadata) checks the snapshot file against the
 * length and sha256 that timestamp.json signs for it (TUF spec 5.5.2 on the client; the publisher
 * must see the same). A snapshot file whose bytes changed but whose signature still verifies (the
 * signature covers the canonical `signed` part, not the file) is what only that check catches:
 * reformatted JSON, or the same bytes in another order.
 */
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { addRelease, initRepository } from '../../src/repo/index.js';
import type { RepoConfig } from '../../src/repo/config.js';
import { verifyRepository } from '../../src/repo/verify.js';
import { appFolder, tempDir } from './publisher-fixture.js';

// Set up at the top level: publisher-fixture's tempDir registers its own removal with after(), which
// inside a before() hook would run at the end of that hook.
const dir = await tempDir();
const apps = await tempDir('notsotuf-apps-');
const config: RepoConfig = await initRepository(dir, { app: 'demo' });
await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
const md = join(config.repository, 'metadata');
const timestamp = JSON.parse(await readFile(join(md, 'timestamp.json'), 'utf8')) as {
  signed: { meta: Record<string, { version: number; length?: number; hashes?: { sha256?: string } }> };
};
const meta = timestamp.signed.meta['snapshot.json'];
assert.ok(
  meta?.length !== undefined && meta.hashes?.sha256 !== undefined,
  'timestamp signs length and sha256',
);
const snapshotName = `${meta.version}.snapshot.json`;
assert.ok((await readdir(md)).includes(snapshotName));
const honest = await readFile(join(md, snapshotName));

async function withSnapshot(bytes: Buffer, check: () => Promise<void>): Promise<void> {
  const path = join(config.repository, 'metadata', snapshotName);
  await writeFile(path, bytes);
  try {
    await check();
  } finally {
    await writeFile(path, honest);
  }
}

test('the honest repository verifies', async () => {
  const report = await verifyRepository(config.repository);
  assert.deepEqual(report.problems, []);
  assert.equal(report.ok, true);
});

test('a snapshot file of another length than timestamp signs (reformatted, signature still valid) is corrupt', async () => {
  const reformatted = Buffer.from(JSON.stringify(JSON.parse(honest.toString('utf8')), null, 2));
  assert.notEqual(reformatted.length, honest.length);
  await withSnapshot(reformatted, async () => {
    const report = await verifyRepository(config.repository);
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.problems.map((p) => [p.kind, p.role, p.message]),
      [
        [
          'corrupt',
          'snapshot',
          `metadata/${snapshotName} is ${reformatted.length} bytes, signed length is ${honest.length}`,
        ],
      ],
    );
  });
});

test('a snapshot file of the signed length but other bytes (same JSON, keys reordered) is corrupt', async () => {
  // Same JSON, other insignificant bytes of the same count: compact files get their two top-level
  // keys swapped, formatted ones one whitespace character swapped for another.
  const text = honest.toString('utf8');
  const parsed = JSON.parse(text) as { signed: unknown; signatures: unknown };
  const compact = [
    JSON.stringify({ signatures: parsed.signatures, signed: parsed.signed }),
    JSON.stringify({ signed: parsed.signed, signatures: parsed.signatures }),
  ];
  const other = Buffer.from(
    compact.includes(text)
      ? compact.find((c) => c !== text)!
      : text.includes('\n')
        ? text.replace('\n', ' ')
        : text.replace(' ', '\t'),
  );
  assert.ok(!other.equals(honest) && other.length === honest.length, 'same length, other bytes');
  assert.deepEqual(JSON.parse(other.toString('utf8')), parsed, 'the same JSON');
  await withSnapshot(other, async () => {
    const report = await verifyRepository(config.repository);
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.problems.map((p) => [p.kind, p.role, p.message]),
      [['corrupt', 'snapshot', `metadata/${snapshotName} does not match its signed sha256`]],
    );
  });
});
