/**
 * The page cache of the old archive (src/diff/old-reader.ts): small reads are served from 16 KB
 * pages kept in a direct-mapped cache of at most 8 MB, large ones go straight into the output.
 * What it holds is measured: its memory (`cacheBytes`), and the read system calls of a real apply
 * (Linux's /proc/self/io counts every read and pread of this process, its thread pool included).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyPatch } from '../../src/diff/index.js';
import { OldReader } from '../../src/diff/old-reader.js';
import { zigzag } from '../../src/diff/varint.js';
import { handMadePatch, prng, readsSoFar, withTempDir, type RawOp } from './helpers.js';

const KiB = 1024;
const MiB = 1 << 20;
const COPY = 0;
const SEEK = 3;

test('the page cache holds a page per 16 KB of the old archive, and never more than 8 MB', async () => {
  await withTempDir(async (dir) => {
    const cases: [number, number][] = [
      [0, 16 * KiB],
      [1, 16 * KiB],
      [16 * KiB, 16 * KiB],
      [16 * KiB + 1, 32 * KiB],
      [100 * KiB, 112 * KiB],
      [8 * MiB, 8 * MiB],
      [8 * MiB + 1, 8 * MiB],
      [64 * MiB, 8 * MiB],
    ];
    for (const [size, cache] of cases) {
      const path = join(dir, `old-${size}`);
      const fh = await open(path, 'w+');
      try {
        await fh.truncate(size); // sparse: only its size matters here
        assert.equal(new OldReader(fh, size).cacheBytes, cache, `an old archive of ${size} bytes`);
      } finally {
        await fh.close();
      }
    }
  });
});

/** A program of copies from the old archive, with the seeks between them. */
class Copies {
  readonly ops: RawOp[] = [];
  private pos = 0;
  copy(from: number, length: number): this {
    if (from !== this.pos) this.ops.push([SEEK, zigzag(from - this.pos)]);
    this.ops.push([COPY, length]);
    this.pos = from + length;
    return this;
  }
}

/** Applies the copies to `old` (no transforms) and returns what the apply read. */
async function readsOfApply(old: Buffer, copies: Copies): Promise<{ calls: number; bytes: number }> {
  const parts: Buffer[] = [];
  let o = 0;
  for (const [op, len] of copies.ops) {
    if (op === SEEK) o += len % 2 === 0 ? len / 2 : -(len + 1) / 2;
    else {
      parts.push(old.subarray(o, o + len));
      o += len;
    }
  }
  const result = Buffer.concat(parts);
  const patch = handMadePatch({ source: old, result, ops: copies.ops, quality: 2 });
  return withTempDir(async (dir) => {
    await writeFile(join(dir, 'old'), old);
    await writeFile(join(dir, 'patch'), patch);
    const before = readsSoFar() as { calls: number; bytes: number };
    await applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out'));
    const after = readsSoFar() as { calls: number; bytes: number };
    assert.ok(readFileSync(join(dir, 'out')).equals(result), 'the result differs');
    return { calls: after.calls - before.calls, bytes: after.bytes - before.bytes };
  });
}

const linuxOnly = { skip: readsSoFar() === undefined && 'reads /proc/self/io (Linux)' };

test('3,000 small copies from one page read the old archive a few times, not 3,000', linuxOnly, async () => {
  const old = prng(61)(MiB);
  const copies = new Copies();
  for (let i = 0; i < 3000; i++) copies.copy(100 * (i % 100), 100);
  const { calls, bytes } = await readsOfApply(old, copies);
  // The page is read once (16 KiB); the rest of the apply (header, checksum, hashing 1 MiB, the
  // three streams) takes a few dozen reads. Reading the page for each copy would be 3,000 reads
  // of 16 KiB (48 MiB), reading each copy's bytes straight from the file 3,000 reads and as many
  // wake-ups. The bound on calls leaves room for the small reads a loaded machine adds (up to
  // 700 seen here).
  assert.ok(calls < 2500, `${calls} reads for 3,000 copies from one page`);
  assert.ok(bytes < 4 * MiB, `${bytes} bytes read for 3,000 copies from one page`);
});

test('large copies go straight into the output and leave the cached pages in place', linuxOnly, async () => {
  // Each round copies exactly 64 KiB (a large copy) from 8 MiB on, pages 512-515, then 100 bytes
  // from each of pages 0-3, which share the cache's slots 0-3 with pages 512-515: were the large
  // copies read through the cache, each round would read 8 pages (128 KiB) instead of 64 KiB.
  const old = prng(62)(8 * MiB + 128 * KiB);
  const copies = new Copies();
  for (let i = 0; i < 300; i++) {
    copies.copy(8 * MiB, 64 * KiB);
    for (let page = 0; page < 4; page++) copies.copy(page * 16 * KiB + i, 100);
  }
  const { bytes } = await readsOfApply(old, copies);
  // Hashing the old archive (8.125 MiB) and 282 copies of 64 KiB straight from the file; the other
  // 18 are cut in two by the end of a 1 MiB output buffer, and their pieces, smaller, go through
  // the cache, after which pages 0-3 are read again (148 pages in all): 28.1 MiB. Through the
  // cache, every round would read 8 pages: 45.6 MiB.
  assert.ok(bytes >= 26 * MiB, `${bytes} bytes read: the large copies did not all read the archive`);
  assert.ok(bytes < 33 * MiB, `${bytes} bytes read for 300 large copies and 1,200 small ones`);
});
