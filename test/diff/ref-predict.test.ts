import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { refRegions } from '../../src/diff/exe-regions.js';
import { applyPatch, createPatch } from '../../src/diff/index.js';
import { decodeAnyHeader } from '../../src/diff/format-2.js';
import {
  EquivalenceMap,
  KIND_REF_DATA,
  KIND_REF_X86,
  MAX_SEGMENTS,
  Predictor,
  SegmentList,
} from '../../src/diff/ref-predict.js';
import type { TransformEntry } from '../../src/diff/transform-table.js';
import { rawTar } from '../archive/tar-builder.js';
import { handMadePatch, prng, withTempDir, writeElf64 } from './helpers.js';

/**
 * A recompiled x86-64 "program": functions of random bytes calling each other (E8 rel32) and
 * reading data rip-relative (48 8B 05 disp32), a table of 64-bit pointers to the functions, and a
 * non-loaded table of the functions' addresses (as a symbol table holds them). Version 2 inserts
 * `grow` bytes into function 7, so every function after it moves and every reference across it
 * changes, as in a real update.
 */
function program(grow: number): {
  code: Buffer;
  data: Buffer;
  symbols: Buffer;
  codeAddr: number;
  dataAddr: number;
} {
  const rand = prng(3);
  const funcs = 200;
  const sizes = Array.from({ length: funcs }, (_, k) => 200 + ((k * 37) % 300) + (k === 7 ? grow : 0));
  const starts: number[] = [];
  let at = 0;
  for (const s of sizes) {
    starts.push(at);
    at += s;
  }
  const codeAddr = 0x401000;
  const code = Buffer.alloc(at);
  const dataAddr = codeAddr + 0x100000;
  const data = Buffer.alloc(funcs * 8);
  for (let f = 0; f < funcs; f++) {
    const noise = rand(1000); // the same bytes for a function in both versions
    let p = starts[f]!;
    const end = p + sizes[f]!;
    let n = 0;
    while (p + 12 < end) {
      if (n % 3 === 0) {
        const target = starts[(f * 31 + n * 17) % funcs]!;
        code[p] = 0xe8;
        code.writeInt32LE(target - (p + 5), p + 1);
        p += 5;
      } else if (n % 3 === 1) {
        code.set([0x48, 0x8b, 0x05], p);
        const target = dataAddr + ((f + n) % funcs) * 8;
        code.writeInt32LE(target - (codeAddr + p + 7), p + 3);
        p += 7;
      } else {
        // plain bytes without opcodes the scan looks at
        for (let k = 0; k < 9; k++) code[p + k] = (noise[p - starts[f]! + k]! & 0x3f) | 0x80;
        p += 9;
      }
      n++;
    }
  }
  for (let f = 0; f < funcs; f++) data.writeBigUInt64LE(BigInt(codeAddr + starts[f]!), f * 8);
  const symbols = Buffer.alloc(funcs * 24);
  for (let f = 0; f < funcs; f++) {
    symbols.writeUInt32LE(f * 11, f * 24);
    symbols.writeBigUInt64LE(BigInt(codeAddr + starts[f]!), f * 24 + 8);
    symbols.writeBigUInt64LE(BigInt(sizes[f]!), f * 24 + 16);
  }
  return { code, data, symbols, codeAddr, dataAddr };
}

/** An ELF64 x86-64 file with .text, .data and a non-loaded .symtab (only what the region finder reads). */
function elfOf(p: ReturnType<typeof program>): Buffer {
  const textOff = 0x1000;
  const dataOff = textOff + p.code.length + 64;
  const symOff = dataOff + p.data.length + 64;
  const shoff = symOff + p.symbols.length + 64;
  const b = Buffer.alloc(shoff + 4 * 64);
  writeElf64(b, 62, shoff, [
    { type: 1, flags: 6, addr: p.codeAddr, offset: textOff, size: p.code.length }, // PROGBITS, ALLOC|EXEC
    { type: 1, flags: 3, addr: p.dataAddr, offset: dataOff, size: p.data.length }, // PROGBITS, WRITE|ALLOC
    { type: 2, offset: symOff, size: p.symbols.length }, // SYMTAB, not loaded
  ]);
  p.code.copy(b, textOff);
  p.data.copy(b, dataOff);
  p.symbols.copy(b, symOff);
  return b;
}

/** A PE32+ x86-64 image with .text and .data; pointers hold image base + RVA. */
function peOf(p: ReturnType<typeof program>): Buffer {
  const base = 0x140000000;
  const textOff = 0x400;
  const dataOff = textOff + p.code.length + 64;
  const b = Buffer.alloc(dataOff + p.data.length + 64);
  b.write('MZ', 0, 'latin1');
  const pe = 0x80;
  b.writeUInt32LE(pe, 0x3c);
  b.write('PE\0\0', pe, 'latin1');
  b.writeUInt16LE(0x8664, pe + 4);
  b.writeUInt16LE(2, pe + 6);
  b.writeUInt16LE(240, pe + 20);
  b.writeUInt16LE(0x20b, pe + 24);
  b.writeBigUInt64LE(BigInt(base), pe + 24 + 24);
  const sec = (k: number, rva: number, off: number, size: number, chars: number): void => {
    const s = pe + 24 + 240 + k * 40;
    b.writeUInt32LE(size, s + 8);
    b.writeUInt32LE(rva, s + 12);
    b.writeUInt32LE(size, s + 16);
    b.writeUInt32LE(off, s + 20);
    b.writeUInt32LE(chars, s + 36);
  };
  // RVAs are the program's addresses; loaded at image base + RVA.
  sec(0, p.codeAddr, textOff, p.code.length, 0x60000020);
  sec(1, p.dataAddr, dataOff, p.data.length, 0xc0000040);
  // Pointers hold image base + RVA (relative operands need no change).
  const data = Buffer.from(p.data);
  for (let k = 0; k < data.length; k += 8) data.writeBigUInt64LE(data.readBigUInt64LE(k) + BigInt(base), k);
  p.code.copy(b, textOff);
  data.copy(b, dataOff);
  return b;
}

/** A Mach-O x86-64 file with __text and __data sections. */
function machOOf(p: ReturnType<typeof program>): Buffer {
  const textOff = 0x1000;
  const dataOff = textOff + p.code.length + 64;
  const b = Buffer.alloc(dataOff + p.data.length + 64);
  b.writeUInt32LE(0xfeedfacf, 0);
  b.writeUInt32LE(0x01000007, 4);
  b.writeUInt32LE(1, 16);
  const cmd = 32;
  b.writeUInt32LE(0x19, cmd);
  b.writeUInt32LE(72 + 2 * 80, cmd + 4);
  b.writeUInt32LE(2, cmd + 64);
  const sect = (k: number, addr: number, size: number, off: number, flags: number): void => {
    const s = cmd + 72 + k * 80;
    b.writeBigUInt64LE(BigInt(addr), s + 32);
    b.writeBigUInt64LE(BigInt(size), s + 40);
    b.writeUInt32LE(off, s + 48);
    b.writeUInt32LE(flags, s + 64);
  };
  sect(0, p.codeAddr, p.code.length, textOff, 0x80000400);
  sect(1, p.dataAddr, p.data.length, dataOff, 0);
  p.code.copy(b, textOff);
  p.data.copy(b, dataOff);
  return b;
}

for (const [name, make] of [
  ['ELF', elfOf],
  ['PE', peOf],
  ['Mach-O', machOOf],
] as const) {
  test(`${name}: a patch with reference prediction is exact and smaller than without`, async () => {
    const tar = (grow: number, note: string): Buffer =>
      rawTar([
        { name: 'app/bin/tool', data: make(program(grow)) },
        { name: 'app/readme.txt', data: note },
      ]);
    const oldTar = tar(0, 'v1');
    const newTar = tar(40, 'v2');
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'old'), oldTar);
      await writeFile(join(dir, 'new'), newTar);
      const sizes: number[] = [];
      for (const predict of [false, true]) {
        const patch = join(dir, `p-${predict}`);
        const info = await createPatch(join(dir, 'old'), join(dir, 'new'), patch, { predict });
        sizes.push(info.patchLength);
        const out = join(dir, `out-${predict}`);
        await applyPatch(join(dir, 'old'), patch, out);
        assert.ok((await readFile(out)).equals(newTar), `not exact with predict ${predict}`);
      }
      const p = await readFile(join(dir, 'p-true'));
      const h = decodeAnyHeader(p, p.length);
      assert.ok(typeof h !== 'number');
      const kinds = h.transforms.result.flatMap((e) => e.regions.map((r) => r.kind));
      assert.ok(kinds.includes(KIND_REF_X86) && kinds.includes(KIND_REF_DATA), `kinds ${kinds.join()}`);
      assert.ok(sizes[1]! < sizes[0]! * 0.8, `with prediction ${sizes[1]} B, without ${sizes[0]} B`);
    });
  });
}

test('reference regions: code, data and unloaded sections; nothing for other machines', () => {
  const e = refRegions(elfOf(program(0)));
  assert.deepEqual(
    e.map((r) => [r.kind, r.bits]),
    [
      [KIND_REF_X86, 1],
      [KIND_REF_DATA, 1],
      [KIND_REF_DATA, 0],
    ],
  );
  const arm = elfOf(program(0));
  arm.writeUInt16LE(40, 18); // 32-bit ARM (aarch64 has its own: test/diff/macho-arm64.test.ts)
  assert.deepEqual(refRegions(arm), []);
  const pe = refRegions(peOf(program(0)));
  assert.equal(pe[0]!.vaddr, 0x140000000 + 0x401000, 'PE addresses include the image base');
  const broken = elfOf(program(0));
  broken.writeBigUInt64LE(2n ** 40n, 40);
  assert.deepEqual(refRegions(broken), []);
});

test('the prediction does not depend on how a record is cut into pieces', () => {
  const rand = prng(9);
  const old = rand(50_000);
  // Code at 0x10000: calls into the code and rip-relative loads from the data, then noise.
  for (let i = 0; i + 16 <= 30_000; i += 16) {
    old[i] = 0xe8;
    old.writeInt32LE(((i * 7919) % 25_000) - (i + 5), i + 1);
    old.set([0x48, 0x8b, 0x05], i + 5);
    old.writeInt32LE(0x20000 + (i % 19_000) - (0x10000 + i + 12), i + 8);
  }
  // Data at 0x20000: every other word a pointer into the code.
  for (let i = 30_000; i + 8 <= 50_000; i += 16)
    old.writeBigUInt64LE(BigInt(0x10000 + ((i * 37) % 29_000)), i);
  const region = (kind: number, start: number, length: number, vaddr: number) => ({
    kind,
    start,
    length,
    vaddr,
    bits: 1,
  });
  const source: TransformEntry[] = [
    {
      start: 0,
      length: 50_000,
      regions: [region(KIND_REF_X86, 0, 30_000, 0x10000), region(KIND_REF_DATA, 30_000, 20_000, 0x20000)],
    },
  ];
  const result: TransformEntry[] = [
    {
      start: 0,
      length: 50_100,
      regions: [region(KIND_REF_X86, 0, 30_100, 0x10000), region(KIND_REF_DATA, 30_100, 20_000, 0x20100)],
    },
  ];
  const segments = new SegmentList(source);
  segments.add(0, 0, 10_000);
  segments.end();
  segments.add(10_100, 10_000, 40_000);
  const map = new EquivalenceMap(segments);
  const whole = (): Buffer => {
    const p = new Predictor(source, result, map);
    const buf = Buffer.from(old.subarray(10_000, 50_000));
    p.begin(10_000, 10_100, 40_000);
    p.piece(buf, 0, 10_000, 40_000, Buffer.alloc(0));
    assert.ok(p.predicted > 100, `${p.predicted} references predicted`);
    return buf;
  };
  const expected = whole();
  assert.ok(!expected.equals(old.subarray(10_000, 50_000)), 'some references change');
  for (let trial = 0; trial < 20; trial++) {
    const p = new Predictor(source, result, map);
    p.begin(10_000, 10_100, 40_000);
    const out: Buffer[] = [];
    for (let pos = 10_000; pos < 50_000;) {
      const n = Math.min(50_000 - pos, 1 + ((trial * 7919 + pos * 31) % 97));
      const buf = Buffer.from(old.subarray(pos, pos + n));
      p.piece(buf, 0, pos, n, old.subarray(pos + n, Math.min(50_000, pos + n + 8)));
      out.push(buf);
      pos += n;
    }
    assert.ok(Buffer.concat(out).equals(expected), `trial ${trial} differs`);
  }
});

test('a patch whose prediction needs more matched runs than allowed is refused, nothing written', async () => {
  const runs = MAX_SEGMENTS + 1;
  const source = prng(4)(2 * runs + 16);
  const result = Buffer.alloc(runs);
  for (let k = 0; k < runs; k++) result[k] = source[2 * k]!;
  const ops: [number, number][] = [];
  for (let k = 0; k < runs; k++) ops.push([0, 1], [3, 2]); // copy 1 byte, skip 1
  const entry = (length: number): TransformEntry => ({
    start: 0,
    length,
    regions: [{ kind: KIND_REF_DATA, start: 0, length, vaddr: 0, bits: 0 }],
  });
  const patch = handMadePatch({
    source,
    result,
    ops: ops.slice(0, -1),
    transforms: { source: [entry(source.length)], result: [entry(result.length)] },
  });
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'old'), source);
    await writeFile(join(dir, 'patch'), patch);
    await assert.rejects(applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out')), {
      name: 'DataError',
      code: 'PATCH_CORRUPT',
      message: /: it has too many matched runs for its reference prediction;/,
    });
    await assert.rejects(readFile(join(dir, 'out')), { code: 'ENOENT' });
  });
});
