import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createPatch } from '../../src/diff/index.js';
import { indexOld } from '../../src/diff/matcher.js';
import { unmatchedIncompressible } from '../../src/diff/unmatched-estimate.js';
import { prng, withTempDir } from './helpers.js';

const MB = 1 << 20;

/** Text-like bytes: words from a small vocabulary (brotli shrinks them several times). */
function text(length: number, seed: number): Buffer {
  const rand = prng(seed);
  const words = ['update', 'archive', 'patch', 'signed', 'target', 'root', 'delegation', 'mirror'];
  const parts: string[] = [];
  let n = 0;
  for (const b of rand(length)) {
    const w = `${words[b % words.length]} `;
    parts.push(w);
    n += w.length;
    if (n >= length) break;
  }
  return Buffer.from(parts.join('')).subarray(0, length);
}

test('new random bytes that old does not hold are counted whole', () => {
  const old = text(2 * MB, 1);
  const nu = Buffer.concat([old, prng(2)(4 * MB)]);
  const got = unmatchedIncompressible(indexOld(old, 8), old, nu, []);
  assert.ok(got >= 4 * MB - 128 * 1024 && got <= 4 * MB, `${got} of 4 MiB`);
});

test('random bytes that old holds elsewhere, and new compressible bytes, are not counted', () => {
  const random = prng(3)(4 * MB);
  const old = Buffer.concat([text(MB, 4), random]);
  // The random bytes moved (and shifted by an odd amount), plus new text old does not have.
  const nu = Buffer.concat([Buffer.from('x'.repeat(333)), random, text(2 * MB, 5)]);
  assert.equal(unmatchedIncompressible(indexOld(old, 8), old, nu, []), 0);
});

test('a block of an entry the hints copy whole is not judged', () => {
  const old = text(MB, 6);
  const nu = prng(7)(2 * MB);
  const all = unmatchedIncompressible(indexOld(old, 8), old, nu, []);
  const hinted = unmatchedIncompressible(indexOld(old, 8), old, nu, [
    { kind: 'copy', newStart: 0, oldStart: 0, length: MB },
  ]);
  assert.equal(all, 2 * MB);
  assert.equal(hinted, MB);
});

test('createPatch under a limit still patches random bytes that moved; it refuses new ones', async () => {
  await withTempDir(async (dir) => {
    const random = prng(8)(6 * MB);
    const [oldPath, nuPath, freshPath, patchPath] = ['old', 'new', 'fresh', 'patch'].map((n) =>
      join(dir, n),
    ) as [string, string, string, string];
    await writeFile(oldPath, Buffer.concat([text(MB, 9), random]));
    await writeFile(
      nuPath,
      Buffer.concat([random.subarray(3 * MB), text(MB, 10), random.subarray(0, 3 * MB)]),
    );
    const made = await createPatch(oldPath, nuPath, patchPath, { maxLength: MB });
    assert.ok(made.patchLength < MB, `${made.patchLength} bytes`);
    await writeFile(freshPath, Buffer.concat([text(MB, 9), prng(11)(6 * MB)]));
    await assert.rejects(createPatch(oldPath, freshPath, join(dir, 'p2'), { maxLength: 5 * MB }), {
      name: 'DataError',
      code: 'PATCH_TOO_LARGE',
    });
    assert.deepEqual((await readdir(dir)).sort(), ['fresh', 'new', 'old', 'patch']);
  });
});
