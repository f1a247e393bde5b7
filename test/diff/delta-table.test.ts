import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { refRegions } from '../../src/diff/exe-regions.js';
import { KIND_ARM64, KIND_DELTA, transformInPlace, type Region } from '../../src/diff/exe-transform.js';
import { decodeAnyHeader } from '../../src/diff/format-2.js';
import { applyPatch, createPatch } from '../../src/diff/index.js';
import { KIND_REF_DATA, KIND_REF_X86 } from '../../src/diff/ref-predict.js';
import { rawTar } from '../archive/tar-builder.js';
import { decodeChunked, prng, withTempDir, writeElf64 } from './helpers.js';

test('DELTA tables round-trip on random data, whatever the chunking', () => {
  const rand = prng(17);
  for (const words of [1, 2, 3]) {
    for (let trial = 0; trial < 6; trial++) {
      const data = rand(10_000 + trial * 13);
      const regions: Region[] = [
        { kind: KIND_DELTA, start: 101 + trial, length: 4000 + trial * 5, vaddr: 0, bits: words },
        { kind: KIND_DELTA, start: 6000, length: 3001, vaddr: 0, bits: words },
      ];
      const enc = Buffer.from(data);
      transformInPlace(enc, regions, 1);
      assert.ok(!enc.equals(data), `words ${words}: nothing changed`);
      for (const r of regions) {
        const size = 4 * words;
        // The first record and a partial last record stay as they are; bytes outside too.
        assert.ok(enc.subarray(r.start, r.start + size).equals(data.subarray(r.start, r.start + size)));
        const tail = r.start + r.length - (r.length % size);
        assert.ok(enc.subarray(tail, r.start + r.length).equals(data.subarray(tail, r.start + r.length)));
      }
      assert.ok(enc.subarray(0, 101).equals(data.subarray(0, 101)), 'bytes before a region changed');
      const dec = Buffer.from(enc);
      transformInPlace(dec, regions, -1);
      assert.ok(dec.equals(data), `words ${words} trial ${trial}: not reversible`);
      for (const size of [1, 3, 7, 8, 12, 13, 4096]) {
        assert.ok(decodeChunked(enc, regions, () => size).equals(data), `chunks of ${size}`);
      }
      const r = prng(trial + 300);
      assert.ok(decodeChunked(enc, regions, () => 1 + (r(1)[0]! % 40)).equals(data), 'random chunks');
    }
  }
});

test('DELTA: each word minus the same word of the previous record, modulo 2^32', () => {
  const b = Buffer.alloc(8 * 4 + 3);
  const rows = [
    [100, 0xfffffff0],
    [150, 0x10],
    [150, 0x20],
    [90, 0x20],
  ];
  rows.forEach(([a, c], k) => {
    b.writeUInt32LE(a!, k * 8);
    b.writeUInt32LE(c!, k * 8 + 4);
  });
  transformInPlace(b, [{ kind: KIND_DELTA, start: 0, length: b.length, vaddr: 0, bits: 2 }], 1);
  const got = [0, 1, 2, 3].map((k) => [b.readUInt32LE(k * 8), b.readUInt32LE(k * 8 + 4)]);
  assert.deepEqual(got, [
    [100, 0xfffffff0],
    [50, 0x20],
    [0, 0x10],
    [0xffffffc4, 0],
  ]);
});

test('the DELTA coder gives the bytes it gave when it shipped (patches made then still apply)', () => {
  const data = prng(31)(100_000);
  const hashes: string[] = [];
  for (const dir of [1, -1] as const) {
    for (const words of [1, 2, 3]) {
      const b = Buffer.from(data);
      transformInPlace(b, [{ kind: KIND_DELTA, start: 1001, length: 90_001, vaddr: 0, bits: words }], dir);
      hashes.push(createHash('sha256').update(b).digest('hex').slice(0, 16));
    }
  }
  assert.deepEqual(hashes, [
    '61e76487c759463e',
    '31761371654eb379',
    '8c84a33deb90b63f',
    '9bb26549a507e029',
    '25139c1305510aa0',
    '4b8962e3f12358f2',
  ]);
});

/**
 * An ELF64 x86-64 executable (only what the region finder reads: the ELF header, a section table
 * with .text and .eh_frame_hdr, and a PT_GNU_EH_FRAME program header): `funcs` functions of
 * pseudo-random code, every 50th function grown by `grow` bytes (and its FDE by 8), and an
 * .eh_frame_hdr after the code whose table holds (function - hdr, FDE - hdr) for every function, as
 * linkers write it: every value of the table changes, while most differences between neighbours do not.
 */
function elfWithHdr(grow: number, tableEnc = 0x3b, machine = 62): Buffer {
  const funcs = 3000;
  const rand = prng(41);
  const changed = (k: number): boolean => grow > 0 && k % 50 === 7;
  const sizes = Array.from({ length: funcs }, (_, k) => 48 + ((k * 37) % 200) + (changed(k) ? grow : 0));
  const codeLen = sizes.reduce((a, b) => a + b, 0);
  const textOff = 0x1000;
  const textAddr = 0x401000;
  const hdrOff = textOff + codeLen + 16;
  const hdrAddr = textAddr + (hdrOff - textOff);
  const hdrLen = 12 + funcs * 8;
  const shoff = hdrOff + hdrLen + 64;
  const b = Buffer.alloc(shoff + 3 * 64);
  writeElf64(b, machine, shoff, [
    { type: 1, flags: 6, addr: textAddr, offset: textOff, size: codeLen },
    { type: 1, flags: 2, addr: hdrAddr, offset: hdrOff, size: hdrLen },
  ]);
  b.writeBigUInt64LE(64n, 32); // phoff
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(1, 56);
  // PT_GNU_EH_FRAME
  b.writeUInt32LE(0x6474e550, 64);
  b.writeBigUInt64LE(BigInt(hdrOff), 64 + 8);
  b.writeBigUInt64LE(BigInt(hdrAddr), 64 + 16);
  b.writeBigUInt64LE(BigInt(hdrLen), 64 + 32);
  let at = textOff;
  for (let f = 0; f < funcs; f++) {
    const noise = rand(300); // the same bytes for a function in both versions
    for (let k = 0; k < sizes[f]!; k++) b[at + k] = (noise[k % 300]! & 0x3f) | 0x80;
    at += sizes[f]!;
  }
  b.set([1, 0x1b, 0x03, tableEnc], hdrOff);
  b.writeInt32LE(0x1000, hdrOff + 4); // eh_frame_ptr (not read)
  b.writeUInt32LE(funcs, hdrOff + 8);
  let pc = textAddr;
  let fde = hdrAddr + hdrLen + 64;
  for (let f = 0; f < funcs; f++) {
    b.writeInt32LE(pc - hdrAddr, hdrOff + 12 + f * 8);
    b.writeInt32LE(fde - hdrAddr, hdrOff + 16 + f * 8);
    pc += sizes[f]!;
    fde += 24 + (f % 4) * 8 + (changed(f) ? 8 : 0);
  }
  return b;
}

test('the .eh_frame_hdr table of an ELF is a DELTA region, cut out of its data section', () => {
  const file = elfWithHdr(0);
  const regions = refRegions(file);
  const delta = regions.filter((r) => r.kind === KIND_DELTA);
  assert.equal(delta.length, 1);
  const hdrOff = Number(file.readBigUInt64LE(64 + 8)); // p_offset of PT_GNU_EH_FRAME
  assert.deepEqual(
    [delta[0]!.offset, delta[0]!.length, delta[0]!.bits, delta[0]!.vaddr],
    [hdrOff + 12, 3000 * 8, 2, 0],
  );
  assert.deepEqual(
    regions.map((r) => r.kind),
    [KIND_REF_X86, KIND_DELTA],
    'the 12-byte header of the section is too small to be a region of its own',
  );
  // A table of another encoding (here udata4 instead of datarel sdata4) is left as data.
  assert.deepEqual(
    refRegions(elfWithHdr(0, 0x03)).map((r) => r.kind),
    [KIND_REF_X86, KIND_REF_DATA],
  );
  // A table that claims more entries than its section holds is left as data.
  const long = elfWithHdr(0);
  long.writeUInt32LE(1_000_000, hdrOff + 8);
  assert.deepEqual(
    refRegions(long).map((r) => r.kind),
    [KIND_REF_X86, KIND_REF_DATA],
  );
});

test('a patch of an ELF whose .eh_frame_hdr table shifted is exact and the table costs little', async () => {
  const tar = (grow: number, note: string, enc?: number): Buffer =>
    rawTar([
      { name: 'app/bin/tool', data: elfWithHdr(grow, enc) },
      { name: 'app/readme.txt', data: note },
    ]);
  await withTempDir(async (dir) => {
    const sizes: number[] = [];
    // 0x03: a table the region finder does not take, so the same bytes are diffed plain.
    for (const enc of [0x3b, 0x03]) {
      const oldTar = tar(0, 'v1', enc);
      const newTar = tar(40, 'v2', enc);
      await writeFile(join(dir, 'old'), oldTar);
      await writeFile(join(dir, 'new'), newTar);
      for (const predict of [true, false]) {
        const patch = join(dir, `p-${enc}-${predict}`);
        const info = await createPatch(join(dir, 'old'), join(dir, 'new'), patch, { predict });
        if (predict) sizes.push(info.patchLength);
        const out = join(dir, `out-${enc}-${predict}`);
        await applyPatch(join(dir, 'old'), patch, out);
        assert.ok(
          (await readFile(out)).equals(newTar),
          `not exact: table encoding ${enc}, predict ${predict}`,
        );
        const p = await readFile(patch);
        const h = decodeAnyHeader(p, p.length);
        assert.ok(typeof h !== 'number');
        const kinds = h.transforms.result.flatMap((e) => e.regions.map((r) => r.kind));
        // Without prediction the table is transformed all the same (an entry of its DELTA region only).
        assert.equal(kinds.includes(KIND_DELTA), enc === 0x3b, `kinds ${kinds.join()}`);
        assert.equal(h.transforms.source.length, h.transforms.result.length);
      }
    }
    assert.ok(sizes[0]! < sizes[1]! * 0.7, `with the DELTA table ${sizes[0]} B, without ${sizes[1]} B`);
  });
});

test('an arm64 ELF gets its .eh_frame_hdr table transformed beside its code; the patch is exact', async () => {
  const tar = (grow: number, note: string, enc?: number): Buffer =>
    rawTar([
      { name: 'app/bin/tool', data: elfWithHdr(grow, enc, 183) },
      { name: 'app/readme.txt', data: note },
    ]);
  await withTempDir(async (dir) => {
    const sizes: number[] = [];
    for (const enc of [0x3b, 0x03]) {
      const newTar = tar(40, 'v2', enc);
      await writeFile(join(dir, 'old'), tar(0, 'v1', enc));
      await writeFile(join(dir, 'new'), newTar);
      const patch = join(dir, `p-${enc}`);
      sizes.push((await createPatch(join(dir, 'old'), join(dir, 'new'), patch)).patchLength);
      await applyPatch(join(dir, 'old'), patch, join(dir, `out-${enc}`));
      assert.ok((await readFile(join(dir, `out-${enc}`))).equals(newTar), `not exact: table encoding ${enc}`);
      const p = await readFile(patch);
      const h = decodeAnyHeader(p, p.length);
      assert.ok(typeof h !== 'number');
      for (const side of [h.transforms.source, h.transforms.result]) {
        assert.deepEqual(
          side.flatMap((e) => e.regions.map((r) => r.kind)),
          enc === 0x3b ? [KIND_ARM64, KIND_DELTA] : [KIND_ARM64],
        );
      }
    }
    // (The code's differences are the same both ways; the table's, about 1.8 KB, mostly go.)
    assert.ok(sizes[0]! < sizes[1]! - 1000, `with the DELTA table ${sizes[0]} B, without ${sizes[1]} B`);
  });
});

/** A PE32+ x86-64 image with .text and a .pdata of RUNTIME_FUNCTION records (the exception directory). */
function peWithPdata(records: number): Buffer {
  const textOff = 0x400;
  const textSize = 0x2000;
  const pdataOff = textOff + textSize;
  const pdataSize = records * 12;
  const b = Buffer.alloc(pdataOff + pdataSize + 0x200);
  b.write('MZ', 0, 'latin1');
  const pe = 0x80;
  b.writeUInt32LE(pe, 0x3c);
  b.write('PE\0\0', pe, 'latin1');
  b.writeUInt16LE(0x8664, pe + 4);
  b.writeUInt16LE(2, pe + 6);
  b.writeUInt16LE(240, pe + 20);
  const opt = pe + 24;
  b.writeUInt16LE(0x20b, opt);
  b.writeBigUInt64LE(0x140000000n, opt + 24);
  b.writeUInt32LE(16, opt + 108);
  b.writeUInt32LE(0x3000, opt + 112 + 24); // exception directory: RVA
  b.writeUInt32LE(pdataSize, opt + 112 + 28);
  const sec = opt + 240;
  b.write('.text', sec, 'latin1');
  b.writeUInt32LE(textSize, sec + 8);
  b.writeUInt32LE(0x1000, sec + 12);
  b.writeUInt32LE(textSize, sec + 16);
  b.writeUInt32LE(textOff, sec + 20);
  b.writeUInt32LE(0x60000020, sec + 36);
  b.write('.pdata', sec + 40, 'latin1');
  b.writeUInt32LE(pdataSize, sec + 48);
  b.writeUInt32LE(0x3000, sec + 52);
  b.writeUInt32LE(pdataSize + 0x100, sec + 56);
  b.writeUInt32LE(pdataOff, sec + 60);
  b.writeUInt32LE(0x40000040, sec + 76);
  return b;
}

test('the .pdata of a PE is a DELTA region of 3-word records', () => {
  const regions = refRegions(peWithPdata(100));
  assert.deepEqual(
    regions.map((r) => [r.kind, r.offset, r.length, r.bits]),
    [
      [KIND_REF_X86, 0x400, 0x2000, 1],
      [KIND_DELTA, 0x2400, 1200, 3],
    ],
  );
  // A directory pointing outside its section gives no DELTA region.
  const bad = peWithPdata(100);
  bad.writeUInt32LE(0x9000, 0x80 + 24 + 112 + 24);
  assert.deepEqual(
    refRegions(bad).map((r) => r.kind),
    [KIND_REF_X86, KIND_REF_DATA],
  );
});
