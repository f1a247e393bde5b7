import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataError } from '../../src/errors.js';
import { verifyTargetFile, type TrustedTarget } from '../../src/client/tuf/index.js';

// Which signed hashes a downloaded target is checked against. Every hash the targets metadata lists
// must be computed and must match: one the client cannot compute is not taken as a match (the
// conformance suite's unknown-hash case, and what python-tuf, go-tuf and tuf-js do).

const BYTES = Buffer.from('the exact signed bytes of a target');
const hex = (algorithm: string, bytes: Uint8Array = BYTES) =>
  createHash(algorithm).update(bytes).digest('hex');

async function withFile(run: (path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-hashes-'));
  try {
    const path = join(dir, 'target.bin');
    await writeFile(path, BYTES);
    await run(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const target = (hashes: Record<string, string>): TrustedTarget => ({
  path: 'app/target.bin',
  length: BYTES.length,
  hashes,
  custom: undefined,
});

const refused = (pattern: RegExp) => (e: unknown) =>
  e instanceof DataError && e.code === 'TARGET_MISMATCH' && pattern.test(e.message);

test('a target that also lists a hash algorithm the client cannot compute is refused, even when sha256 matches', () =>
  withFile(async (path) => {
    await assert.rejects(
      verifyTargetFile(path, target({ sha256: hex('sha256'), 'unknown-hash': hex('sha256') })),
      refused(/unknown-hash hash, which this client cannot compute/),
    );
  }));

test('every listed hash must match: a right sha256 does not excuse a wrong sha512', () =>
  withFile(async (path) => {
    await assert.rejects(
      verifyTargetFile(path, target({ sha256: hex('sha256'), sha512: hex('sha512', Buffer.from('other')) })),
      refused(/does not match its signed sha512 hash/),
    );
    await verifyTargetFile(path, target({ sha256: hex('sha256'), sha512: hex('sha512') }));
  }));

test('sha384 counts as a strong hash; any other hash Node computes is checked too', () =>
  withFile(async (path) => {
    await verifyTargetFile(path, target({ sha384: hex('sha384') }));
    await verifyTargetFile(path, target({ sha256: hex('sha256'), md5: hex('md5') }));
    await assert.rejects(
      verifyTargetFile(path, target({ sha256: hex('sha256'), md5: hex('md5', Buffer.from('other')) })),
      refused(/does not match its signed md5 hash/),
    );
  }));

test('a target with only a weak hash, or none, is refused before the file is read', async () => {
  // The file does not exist: the refusal must not depend on reading it.
  const missing = join(tmpdir(), 'notsotuf-hashes-never-created', 'target.bin');
  await assert.rejects(
    verifyTargetFile(missing, target({ md5: hex('md5') })),
    refused(/lists no supported hash/),
  );
  await assert.rejects(verifyTargetFile(missing, target({})), refused(/lists no supported hash/));
  await assert.rejects(
    verifyTargetFile(missing, target({ sha256: hex('sha256'), 'no-such-algorithm': 'ab' })),
    refused(/cannot compute/),
  );
});
