import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { refRegions } from '../../src/diff/exe-regions.js';
import { decodeAnyHeader } from '../../src/diff/format-2.js';
import { applyPatch, createPatch } from '../../src/diff/index.js';
import {
  EquivalenceMap,
  KIND_REF_DATA,
  KIND_REF_SYMTAB,
  KIND_REF_X86,
  Predictor,
  SegmentList,
} from '../../src/diff/ref-predict.js';
import type { TransformEntry } from '../../src/diff/transform-table.js';
import { rawTar } from '../archive/tar-builder.js';
import { prng, withTempDir, writeElf64 } from './helpers.js';

/**
 * An ELF64 x86-64 file (only what the region finder reads): .text of `funcs` functions of
 * pseudo-random bytes, a .symtab of one symbol per function (name, type, section, address, size)
 * and its .strtab. Version 2 adds a name before every 40th function's (so the names' offsets move
 * by more and more) and grows function 7 by 40 bytes (so every later address moves).
 */
function elfWithSymbols(version: 1 | 2, entsize = 24): Buffer {
  const funcs = 2000;
  const rand = prng(23);
  const sizes = Array.from(
    { length: funcs },
    (_, k) => 40 + ((k * 37) % 120) + (version === 2 && k === 7 ? 40 : 0),
  );
  const codeLen = sizes.reduce((a, b) => a + b, 0);
  const names: string[] = [];
  const nameOf: number[] = [];
  for (let f = 0; f < funcs; f++) {
    if (version === 2 && f % 40 === 3) names.push(`added_helper_${f}`);
    nameOf.push(names.length);
    names.push(`_ZN4demo${f % 7}module${f}function_${(f * 7919) % 10007}Ev`);
  }
  const strtab = Buffer.from(`\0${names.join('\0')}\0`, 'latin1');
  const nameAt: number[] = [];
  for (let k = 0, at = 1; k < names.length; k++) {
    nameAt.push(at);
    at += names[k]!.length + 1;
  }
  const textOff = 0x1000;
  const textAddr = 0x401000;
  const symOff = textOff + codeLen + 8 - ((textOff + codeLen) % 8);
  const symLen = funcs * 24;
  const strOff = symOff + symLen;
  const shoff = strOff + strtab.length + 64;
  const b = Buffer.alloc(shoff + 4 * 64);
  writeElf64(b, 62, shoff, [
    { type: 1, flags: 6, addr: textAddr, offset: textOff, size: codeLen },
    { type: 2, offset: symOff, size: symLen, link: 3, entsize }, // SYMTAB, names in .strtab (3)
    { type: 3, offset: strOff, size: strtab.length },
  ]);
  strtab.copy(b, strOff);
  let at = textOff;
  for (let f = 0; f < funcs; f++) {
    const noise = rand(200); // the same bytes for a function in both versions
    for (let k = 0; k < sizes[f]!; k++) b[at + k] = (noise[k % 200]! & 0x3f) | 0x80;
    const s = symOff + f * 24;
    b.writeUInt32LE(nameAt[nameOf[f]!]!, s);
    b[s + 4] = 0x12; // global function
    b.writeUInt16LE(1, s + 6);
    b.writeBigUInt64LE(BigInt(textAddr + (at - textOff)), s + 8);
    b.writeBigUInt64LE(BigInt(sizes[f]!), s + 16);
    at += sizes[f]!;
  }
  return b;
}

test('an ELF symbol table is a symbol region that names its string table', () => {
  const file = elfWithSymbols(1);
  const regions = refRegions(file);
  assert.deepEqual(
    regions.map((r) => r.kind),
    [KIND_REF_X86, KIND_REF_SYMTAB, KIND_REF_DATA],
  );
  const shoff = Number(file.readBigUInt64LE(40));
  const strOff = Number(file.readBigUInt64LE(shoff + 3 * 64 + 24));
  assert.equal(regions[1]!.vaddr, strOff, 'vaddr is the file offset of the linked string table');
  assert.equal(regions[1]!.bits, 0);
  // Records of another size, or a link to something else than a string table: plain data.
  assert.deepEqual(
    refRegions(elfWithSymbols(1, 16)).map((r) => r.kind),
    [KIND_REF_X86, KIND_REF_DATA, KIND_REF_DATA],
  );
  const badLink = elfWithSymbols(1);
  badLink.writeUInt32LE(1, shoff + 2 * 64 + 40);
  assert.deepEqual(
    refRegions(badLink).map((r) => r.kind),
    [KIND_REF_X86, KIND_REF_DATA, KIND_REF_DATA],
  );
});

test('a patch whose symbol names and addresses moved predicts them and is exact', async () => {
  await withTempDir(async (dir) => {
    const sizes: number[] = [];
    // entsize 16: the finder does not take the table, so the same bytes are diffed as data.
    for (const entsize of [24, 16]) {
      const tar = (v: 1 | 2): Buffer =>
        rawTar([
          { name: 'app/bin/tool', data: elfWithSymbols(v, entsize) },
          { name: 'app/notes.txt', data: `v${v}` },
        ]);
      const oldTar = tar(1);
      const newTar = tar(2);
      await writeFile(join(dir, 'old'), oldTar);
      await writeFile(join(dir, 'new'), newTar);
      const patch = join(dir, `p${entsize}`);
      sizes.push((await createPatch(join(dir, 'old'), join(dir, 'new'), patch)).patchLength);
      await applyPatch(join(dir, 'old'), patch, join(dir, `out${entsize}`));
      assert.ok(
        (await readFile(join(dir, `out${entsize}`))).equals(newTar),
        `not exact (entsize ${entsize})`,
      );
      const p = await readFile(patch);
      const h = decodeAnyHeader(p, p.length);
      assert.ok(typeof h !== 'number');
      const kinds = h.transforms.result.flatMap((e) => e.regions.map((r) => r.kind));
      assert.equal(kinds.includes(KIND_REF_SYMTAB), entsize === 24, `kinds ${kinds.join()}`);
    }
    assert.ok(sizes[0]! < sizes[1]! * 0.9, `with symbol prediction ${sizes[0]} B, without ${sizes[1]} B`);
  });
});

test('symbol prediction does not depend on how a record is cut into pieces', () => {
  const rand = prng(8);
  const old = rand(40_000);
  // 0..10_000: code at 0x10000; 10_000..34_000: 1000 symbols; 34_000..40_000: their strings.
  for (let k = 0; k < 1000; k++) {
    const s = 10_000 + k * 24;
    old.writeUInt32LE(1 + ((k * 13) % 5_900), s);
    old.writeBigUInt64LE(BigInt(0x10000 + ((k * 97) % 10_000)), s + 8);
  }
  const sym = (start: number, length: number, strings: number) => ({
    kind: KIND_REF_SYMTAB,
    start,
    length,
    vaddr: strings,
    bits: 0,
  });
  const code = (length: number) => ({ kind: KIND_REF_X86, start: 0, length, vaddr: 0x10000, bits: 1 });
  const source: TransformEntry[] = [
    { start: 0, length: 40_000, regions: [code(10_000), sym(10_000, 24_000, 34_000)] },
  ];
  // The result: 50 bytes more code before the symbols, 30 more bytes of strings before theirs.
  const result: TransformEntry[] = [
    { start: 0, length: 40_080, regions: [code(10_050), sym(10_050, 24_000, 34_050)] },
  ];
  const segments = new SegmentList(source);
  segments.add(0, 0, 5_000);
  segments.end();
  segments.add(5_050, 5_000, 29_000);
  segments.end();
  segments.add(34_080, 34_000, 6_000);
  const map = new EquivalenceMap(segments);
  const run = (cut: (pos: number) => number): Buffer => {
    const p = new Predictor(source, result, map);
    p.begin(10_000, 10_050, 24_000);
    const out: Buffer[] = [];
    for (let pos = 10_000; pos < 34_000;) {
      const n = Math.min(34_000 - pos, cut(pos));
      const buf = Buffer.from(old.subarray(pos, pos + n));
      p.piece(buf, 0, pos, n, old.subarray(pos + n, Math.min(34_000, pos + n + 8)));
      out.push(buf);
      pos += n;
    }
    return Buffer.concat(out);
  };
  const whole = run(() => 24_000);
  // Every name moved by 30 bytes of inserted strings (and 50 of the shift of the strings' table
  // offset cancel out); addresses past the first 5,000 bytes of code moved by 50.
  for (let k = 0; k < 1000; k++) {
    const s = k * 24;
    assert.equal(whole.readUInt32LE(s), old.readUInt32LE(10_000 + s) + 30, `name of symbol ${k}`);
    const a = Number(old.readBigUInt64LE(10_000 + s + 8));
    assert.equal(Number(whole.readBigUInt64LE(s + 8)), a + (a - 0x10000 >= 5_000 ? 50 : 0), `value of ${k}`);
    assert.ok(whole.subarray(s + 4, s + 8).equals(old.subarray(10_000 + s + 4, 10_000 + s + 8)));
  }
  for (let trial = 0; trial < 10; trial++) {
    const got = run((pos) => 1 + ((trial * 7919 + pos * 31) % 53));
    assert.ok(got.equals(whole), `trial ${trial} differs`);
  }
});
