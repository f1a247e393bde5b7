import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createPatch } from '../../src/diff/index.js';
import { prng, roundTrip, withTempDir } from './helpers.js';

const rand = prng(7);

async function check(a: Buffer, b: Buffer): Promise<Buffer> {
  const { patch, rebuilt } = await roundTrip(a, b);
  assert.ok(rebuilt.equals(b), 'the rebuilt file differs from the new one');
  return patch;
}

test('empty to empty, empty to data, data to empty', async () => {
  await check(Buffer.alloc(0), Buffer.alloc(0));
  await check(Buffer.alloc(0), rand(1000));
  await check(rand(1000), Buffer.alloc(0));
});

test('one-byte inputs', async () => {
  await check(Buffer.from([1]), Buffer.from([1]));
  await check(Buffer.from([1]), Buffer.from([2]));
  await check(Buffer.alloc(0), Buffer.from([255]));
  await check(Buffer.from([0]), Buffer.alloc(0));
});

test('identical inputs give a tiny patch', async () => {
  const a = rand(300_000);
  const patch = await check(a, Buffer.from(a));
  assert.ok(patch.length < 300, `patch of identical inputs is ${patch.length} bytes`);
});

test('fully different inputs give a patch about the size of the new data', async () => {
  const a = rand(100_000);
  const b = rand(120_000);
  const patch = await check(a, b);
  assert.ok(patch.length < 120_000 + 1000, `patch is ${patch.length} bytes`);
});

test('random byte edits in place cost little', async () => {
  const a = rand(200_000);
  const b = Buffer.from(a);
  const r = prng(99);
  for (let k = 0; k < 200; k++) {
    const pos = r(4).readUInt32LE() % b.length;
    b[pos] = (b[pos]! + 1) & 255;
  }
  const patch = await check(a, b);
  assert.ok(patch.length < 3000, `patch is ${patch.length} bytes`);
});

test('insertions, deletions and moved blocks', async () => {
  const a = rand(400_000);
  const b = Buffer.concat([
    a.subarray(300_000, 350_000), // moved to the front
    a.subarray(0, 100_000),
    rand(5000), // inserted
    a.subarray(120_000, 300_000), // 20 000 deleted before this
    a.subarray(350_000),
    a.subarray(10_000, 30_000), // copied twice
  ]);
  const patch = await check(a, b);
  assert.ok(patch.length < 5000 + 2000, `patch is ${patch.length} bytes`);
});

test('shifted pointers (every 8th word changes by a constant) cost little', async () => {
  const a = rand(200_000);
  const b = Buffer.concat([rand(100), a]);
  for (let i = 100; i + 4 <= b.length; i += 64) b.writeUInt32LE((b.readUInt32LE(i) + 0x1000) >>> 0, i);
  const patch = await check(a, b);
  assert.ok(patch.length < 20_000, `patch is ${patch.length} bytes`);
});

test('repetitive inputs (zeros, short periods) round-trip', async () => {
  await check(Buffer.alloc(100_000), Buffer.alloc(100_001));
  await check(Buffer.alloc(50_000, 'ab'), Buffer.alloc(70_000, 'abc'));
  await check(Buffer.alloc(10, 'x'), Buffer.alloc(100_000, 'x'));
});

test('short copies from all over an old file larger than the read cache', async () => {
  // The apply reads short copies through an 8 MB cache of 16 KB pages: a new file made of
  // thousands of short pieces of a 9 MB old file, revisiting places, evicts and refills pages.
  const r = prng(41);
  const a = r(9 << 20);
  const parts: Buffer[] = [];
  for (let k = 0; k < 6000; k++) {
    const x = r(8);
    const len = 64 + (x.readUInt16LE(0) % 400);
    const from = x.readUInt32LE(4) % (a.length - len);
    parts.push(a.subarray(from, from + len));
    if (k % 500 === 0) parts.push(a.subarray(from, from + 100_000)); // and a long one now and then
  }
  const b = Buffer.concat(parts);
  const patch = await check(a, b);
  assert.ok(patch.length < b.length / 4, `patch is ${patch.length} bytes: the pieces were not copied`);
});

test('many random edit scripts round-trip', async () => {
  for (let seed = 1; seed <= 25; seed++) {
    const r = prng(seed);
    const a = r(1 + (r(2).readUInt16LE() % 20_000));
    const parts: Buffer[] = [];
    for (let k = 0; k < 8; k++) {
      const x = r(8);
      const from = x.readUInt32LE(0) % a.length;
      const len = x.readUInt32LE(4) % 3000;
      parts.push(k % 3 === 2 ? r(len % 200) : a.subarray(from, from + len));
    }
    const b = Buffer.concat(parts);
    for (let k = 0; k < 10 && b.length > 0; k++) {
      const at = r(4).readUInt32LE() % b.length;
      b[at] = b[at]! ^ 0x5a;
    }
    await check(a, b);
  }
});

test('an aborted createPatch leaves no patch file', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'a'), rand(10_000));
    await writeFile(join(dir, 'b'), rand(10_000));
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(createPatch(join(dir, 'a'), join(dir, 'b'), join(dir, 'p'), { signal: ac.signal }));
    assert.deepEqual((await readdir(dir)).sort(), ['a', 'b']);
  });
});
