import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { refRegions, unwindTables } from '../../src/diff/exe-regions.js';
import { KIND_ARM64, transformInPlace, type Region } from '../../src/diff/exe-transform.js';
import { decodeAnyHeader } from '../../src/diff/format-2.js';
import { applyPatch, createPatch } from '../../src/diff/index.js';
import { KIND_PAGE_HASH } from '../../src/diff/page-hash.js';
import { rawTar } from '../archive/tar-builder.js';
import { arm64Program, machOArm64 } from './arm64-exe.js';
import { decodeChunked, prng, withTempDir } from './helpers.js';

/** The LC_CODE_SIGNATURE's data offset of a file made by machOArm64 with `sign`. */
function signatureOffset(file: Buffer): number {
  const ncmds = file.readUInt32LE(16);
  let at = 32;
  for (let k = 0; k < ncmds; k++) {
    if (file.readUInt32LE(at) === 0x1d) return file.readUInt32LE(at + 8);
    at += file.readUInt32LE(at + 4);
  }
  throw new Error('no signature');
}

test('the page hashes of a Mach-O code signature are a PAGE_HASH region', () => {
  const file = machOArm64(arm64Program(0), { sign: true });
  const sig = signatureOffset(file);
  const pages = Math.ceil(sig / 4096);
  const slots = sig + 20 + 88;
  const expected = [KIND_PAGE_HASH, slots, pages * 32, sig, 12];
  const pick = (r: { kind: number; offset: number; length: number; vaddr: number; bits: number }) => [
    r.kind,
    r.offset,
    r.length,
    r.vaddr,
    r.bits,
  ];
  // Both for a transformed executable (beside its unwind tables) and for a predicted one.
  assert.deepEqual(
    unwindTables(file)
      .filter((r) => r.kind === KIND_PAGE_HASH)
      .map(pick),
    [expected],
  );
  assert.deepEqual(
    refRegions(file)
      .filter((r) => r.kind === KIND_PAGE_HASH)
      .map(pick),
    [expected],
  );
  // SHA-1 (type 1), or a slot count that does not match the code limit: none.
  const sha1 = machOArm64(arm64Program(0), { sign: true, hashType: 1 });
  assert.equal(unwindTables(sha1).filter((r) => r.kind === KIND_PAGE_HASH).length, 0);
  const count = Buffer.from(file);
  count.writeUInt32BE(pages + 1, sig + 20 + 28);
  assert.equal(unwindTables(count).filter((r) => r.kind === KIND_PAGE_HASH).length, 0);
  // Transformed, the slots of a right signature are all zeros.
  const t = Buffer.from(file);
  transformInPlace(
    t,
    [{ kind: KIND_PAGE_HASH, start: slots, length: pages * 32, vaddr: sig, bits: 12, base: 0 }],
    1,
  );
  assert.ok(t.subarray(slots, slots + pages * 32).equals(Buffer.alloc(pages * 32)), 'slots not zero');
  assert.ok(t.subarray(0, slots).equals(file.subarray(0, slots)), 'bytes before the slots changed');
});

test('PAGE_HASH round-trips beside other regions, whatever the chunking; its output is pinned', () => {
  const rand = prng(23);
  const data = rand(70_000);
  // Pages of 4 KB hashed from 1000 (the last one partial), an arm64 region among them, the
  // slots after them.
  const codeLimit = 4096 * 12 + 50;
  const slots = 1000 + codeLimit + 100;
  const regions: Region[] = [
    { kind: KIND_ARM64, start: 3000, length: 40_000, vaddr: 0x100000000, bits: 0 },
    { kind: KIND_PAGE_HASH, start: slots, length: 13 * 32, vaddr: codeLimit, bits: 12, base: 1000 },
  ];
  const enc = Buffer.from(data);
  transformInPlace(enc, regions, 1);
  assert.ok(!enc.equals(data));
  for (let k = 0; k < 13; k++) {
    // Each slot XOR the SHA-256 of its page as it was before the arm64 transform.
    const page = data.subarray(1000 + k * 4096, Math.min(1000 + (k + 1) * 4096, 1000 + codeLimit));
    const h = createHash('sha256').update(page).digest();
    for (let i = 0; i < 32; i++) assert.equal(enc[slots + k * 32 + i], data[slots + k * 32 + i]! ^ h[i]!);
  }
  const dec = Buffer.from(enc);
  transformInPlace(dec, regions, -1);
  assert.ok(dec.equals(data), 'not reversible');
  for (const size of [1, 3, 7, 8, 13, 4096, 5000]) {
    assert.ok(decodeChunked(enc, regions, () => size).equals(data), `chunks of ${size}`);
  }
  const r = prng(5);
  assert.ok(decodeChunked(enc, regions, () => 1 + (r(1)[0]! % 200)).equals(data), 'random chunks');
  // A changed coder would make published patches fail their result hash: pinned.
  assert.equal(
    createHash('sha256').update(enc).digest('hex'),
    '15daa4fc9d9cff2a12f3fb6a14997d5e46ff8104ea7de7c9f5e84cd86bd2c1dc',
  );
});

test('a signed arm64 Mach-O: the patch is exact and its page hashes cost nearly nothing', async () => {
  const tar = (grow: number, note: string, hashType: number): Buffer =>
    rawTar([
      {
        name: 'app/bin/tool',
        data: machOArm64(arm64Program(grow, { funcs: 3000, every: 7 }), { sign: true, hashType }),
      },
      { name: 'app/readme.txt', data: note },
    ]);
  await withTempDir(async (dir) => {
    const sizes: number[] = [];
    // Type 1 (SHA-1, not taken): the same bytes, the slots diffed plain.
    for (const hashType of [2, 1]) {
      const newTar = tar(6, 'v2', hashType);
      await writeFile(join(dir, 'old'), tar(0, 'v1', hashType));
      await writeFile(join(dir, 'new'), newTar);
      const patch = join(dir, `p-${hashType}`);
      sizes.push((await createPatch(join(dir, 'old'), join(dir, 'new'), patch)).patchLength);
      await applyPatch(join(dir, 'old'), patch, join(dir, 'out'));
      assert.ok((await readFile(join(dir, 'out'))).equals(newTar), `not exact, hash type ${hashType}`);
      const p = await readFile(patch);
      const h = decodeAnyHeader(p, p.length);
      assert.ok(typeof h !== 'number');
      // In the result only (the source's would be zeros matching any zeros: not worth hashing).
      const kinds = (side: typeof h.transforms.source): number[] =>
        side.flatMap((e) => e.regions.map((x) => x.kind));
      assert.equal(kinds(h.transforms.result).includes(KIND_PAGE_HASH), hashType === 2);
      assert.equal(kinds(h.transforms.source).includes(KIND_PAGE_HASH), false);
    }
    // About 280 pages: 9 KB of hashes, nearly all changed.
    assert.ok(sizes[0]! < sizes[1]! - 8000, `with page hashes ${sizes[0]} B, without ${sizes[1]} B`);
  });
});
