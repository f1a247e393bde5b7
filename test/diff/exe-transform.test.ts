import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { codeRegions } from '../../src/diff/exe-regions.js';
import {
  KIND_ARM64,
  KIND_X86,
  KIND_REF_ARM64,
  KIND_X86_RIP,
  transformInPlace,
  type Region,
} from '../../src/diff/exe-transform.js';
import { applyPatch, createPatch } from '../../src/diff/index.js';
import { decodeAnyHeader } from '../../src/diff/format-2.js';
import { KIND_PAGE_HASH } from '../../src/diff/page-hash.js';
import { rawTar } from '../archive/tar-builder.js';
import { decodeChunked, prng, withTempDir, writeElf64 } from './helpers.js';

const rand = prng(11);

test('every transform round-trips on random data, whatever the chunking', () => {
  for (const kind of [KIND_X86, KIND_ARM64, KIND_X86_RIP]) {
    for (let trial = 0; trial < 12; trial++) {
      const data = rand(20_000 + trial * 37);
      // Dense in opcodes the transforms look at, so many operands are converted.
      for (let i = 0; i < data.length; i += 7) data[i] = [0xe8, 0xe9, 0x0f, 0x48, 0x94, 0x90][i % 6]!;
      const regions: Region[] = [
        {
          kind,
          start: 100 + trial,
          length: 5000,
          vaddr: 0x401000 + trial * 3,
          bits: kind === KIND_ARM64 ? 0 : 20 + trial,
        },
        { kind, start: 9000, length: 9000 + trial, vaddr: 2 ** 40 + 5, bits: kind === KIND_ARM64 ? 0 : 32 },
      ];
      const enc = Buffer.from(data);
      transformInPlace(enc, regions, 1);
      assert.ok(!enc.equals(data), `kind ${kind} changed nothing`);
      assert.ok(enc.subarray(0, 100).equals(data.subarray(0, 100)), 'bytes before a region changed');
      const dec = Buffer.from(enc);
      transformInPlace(dec, regions, -1);
      assert.ok(dec.equals(data), `kind ${kind} trial ${trial}: not reversible`);
      for (const size of [1, 2, 3, 5, 8, 13, 4096]) {
        assert.ok(decodeChunked(enc, regions, () => size).equals(data), `chunks of ${size}`);
      }
      const r = prng(trial + 100);
      assert.ok(decodeChunked(enc, regions, () => 1 + (r(1)[0]! % 40)).equals(data), 'random chunks');
    }
  }
});

test('the coders give the bytes they gave when format 2 shipped (patches made then still apply)', () => {
  // sha256 of each kind's output, in both directions, on fixed pseudo-random bytes dense in the
  // opcodes and ModRM bytes the coders look at; taken from the first format-2 coder. A faster
  // coder must give the same bytes, or patches already published no longer apply.
  const pinned: Record<string, string> = {
    '1,1': '6fce70fc43becad146d48443347b747d62026788066fdc6e0a52d3e5a1318054',
    '1,-1': 'a227e820c419f9363ece98ffbfff14a7cfebbcc7a262e15fedcc8ca26a695888',
    '2,1': '24d30575566a8869bd6eb8d09abd01e284cbdaaa8b2add232ec4f575a7a6c72d',
    '2,-1': '23c6adf13b5c919a5f1811afcdbc4ceb5d634f5fecc4c6804b09b12323b8e30f',
    '3,1': '0195c6222cc64f44778551535ebbea02daa74335fcc385bb7bb595c9b3c74132',
    '3,-1': '2282a0286df8b0d187a6ff661fb0df84a8f264dc230b38d3dcc98ce3bf3b3bab',
    // arm64 code with reference prediction is transformed as ARM64: the same bytes
    '8,1': '24d30575566a8869bd6eb8d09abd01e284cbdaaa8b2add232ec4f575a7a6c72d',
    '8,-1': '23c6adf13b5c919a5f1811afcdbc4ceb5d634f5fecc4c6804b09b12323b8e30f',
  };
  const data = prng(29)(300_000);
  const ops = [0xe8, 0xe9, 0x0f, 0x48, 0x8b, 0x05, 0x89, 0x15, 0x94, 0x90, 0x8d, 0x3d];
  for (let i = 0; i < data.length; i += 5) data[i] = ops[(i / 5) % ops.length]!;
  for (const kind of [KIND_X86, KIND_ARM64, KIND_X86_RIP, KIND_REF_ARM64]) {
    for (const dir of [1, -1] as const) {
      const arm = kind === KIND_ARM64 || kind === KIND_REF_ARM64;
      const bits = arm ? 0 : 29;
      const regions: Region[] = [
        { kind, start: 1000, length: 150_000, vaddr: 0x401000, bits },
        { kind, start: 151_003, length: 140_000, vaddr: 2 ** 40 + 7, bits: arm ? 0 : 32 },
      ];
      const b = Buffer.from(data);
      transformInPlace(b, regions, dir);
      assert.ok(!b.equals(data), `kind ${kind} changed nothing`);
      const got = createHash('sha256').update(b).digest('hex');
      assert.equal(got, pinned[`${kind},${dir}`], `kind ${kind} direction ${dir}`);
    }
  }
  // Page hashes (kind 9): the slots after 200 KB of pages of 16 KB, XOR their SHA-256.
  for (const dir of [1, -1] as const) {
    const b = Buffer.from(data);
    const slots = 1000 + 200_000;
    const region: Region = {
      kind: KIND_PAGE_HASH,
      start: slots,
      length: 13 * 32,
      vaddr: 200_000,
      bits: 14,
      base: 1000,
    };
    transformInPlace(b, [region], dir);
    assert.equal(
      createHash('sha256').update(b).digest('hex'),
      'eee2ac03e69e022cc02e868eea3a6271a0639bcc997d2168c530423846b6cd7d', // (XOR: both ways)
      `kind 9 direction ${dir}`,
    );
  }
});

test('x86: two calls to one target get the same operand; far displacements are left alone', () => {
  const code = Buffer.alloc(64, 0x90);
  // call +0x20 at offset 0 (next insn 5, target 0x25) and call +0x0b at 0x10 (next 0x15, target 0x20)
  code.set([0xe8, 0x20, 0, 0, 0], 0);
  code.set([0xe8, 0x10, 0, 0, 0], 0x10);
  code.set([0xe8, 0x00, 0x00, 0x00, 0x40], 0x20); // +0x40000000: not plausible with 24 bits
  const regions: Region[] = [{ kind: KIND_X86, start: 0, length: 64, vaddr: 0x1000, bits: 24 }];
  transformInPlace(code, regions, 1);
  assert.equal(code.readUInt32LE(1), 0x1025); // 0x1000 + 5 + 0x20
  assert.equal(code.readUInt32LE(0x11), 0x1025); // 0x1000 + 0x15 + 0x10
  assert.equal(code.readUInt32LE(0x21), 0x40000000);
});

test('arm64: BL and ADRP targets become absolute', () => {
  const code = Buffer.alloc(16);
  code.writeUInt32LE((0x94000000 | 4) >>> 0, 0); // bl +16 at 0x4000
  code.writeUInt32LE((0x94000000 | 3) >>> 0, 4); // bl +12 at 0x4004: same target
  code.writeUInt32LE((0x90000000 | 1) >>> 0, 8); // adrp x1, +0 pages
  const regions: Region[] = [{ kind: KIND_ARM64, start: 0, length: 16, vaddr: 0x4000, bits: 0 }];
  transformInPlace(code, regions, 1);
  assert.equal(code.readUInt32LE(0), code.readUInt32LE(4));
  assert.equal(code.readUInt32LE(0) & 0x03ffffff, (0x4000 + 16) / 4);
  const adrp = code.readUInt32LE(8);
  assert.equal((((adrp >>> 5) & 0x7ffff) << 2) | ((adrp >>> 29) & 3), 4); // page 0x4000 >> 12
});

// Minimal executables built in code: only the header fields the region finder reads.

function elf64(
  machine: number,
  textOffset: number,
  textSize: number,
  textAddr: number,
  size: number,
): Buffer {
  const b = Buffer.alloc(size);
  writeElf64(b, machine, size - 3 * 64, [
    { type: 1, flags: 6, addr: textAddr, offset: textOffset, size: textSize }, // .text, ALLOC|EXECINSTR
    { type: 1, flags: 2, addr: textAddr + textSize, offset: textOffset + textSize, size: 512 }, // .rodata, ALLOC only (not code)
  ]);
  return b;
}

function pe64(textOffset: number, textSize: number, rva: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  b.write('MZ', 0, 'latin1');
  const pe = 0x80;
  b.writeUInt32LE(pe, 0x3c);
  b.write('PE\0\0', pe, 'latin1');
  b.writeUInt16LE(0x8664, pe + 4);
  b.writeUInt16LE(2, pe + 6);
  b.writeUInt16LE(240, pe + 20);
  const sec = pe + 24 + 240;
  b.write('.text', sec, 'latin1');
  b.writeUInt32LE(textSize, sec + 8);
  b.writeUInt32LE(rva, sec + 12);
  b.writeUInt32LE(textSize + 100, sec + 16); // raw size rounded up past the code
  b.writeUInt32LE(textOffset, sec + 20);
  b.writeUInt32LE(0x60000020, sec + 36);
  const data = sec + 40;
  b.write('.rdata', data, 'latin1');
  b.writeUInt32LE(4096, data + 8);
  b.writeUInt32LE(rva + 0x10000, data + 12);
  b.writeUInt32LE(4096, data + 16);
  b.writeUInt32LE(textOffset + textSize + 100, data + 20);
  b.writeUInt32LE(0x40000040, data + 36);
  return b;
}

function machO64arm(textOffset: number, textSize: number, addr: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32LE(0xfeedfacf, 0);
  b.writeUInt32LE(0x0100000c, 4);
  b.writeUInt32LE(1, 16); // ncmds
  const cmd = 32;
  b.writeUInt32LE(0x19, cmd);
  b.writeUInt32LE(72 + 80, cmd + 4);
  b.write('__TEXT', cmd + 8, 'latin1');
  b.writeBigUInt64LE(BigInt(addr - textOffset), cmd + 24);
  b.writeBigUInt64LE(BigInt(textOffset + textSize), cmd + 32);
  b.writeUInt32LE(1, cmd + 64); // nsects
  const s = cmd + 72;
  b.write('__text', s, 'latin1');
  b.write('__TEXT', s + 16, 'latin1');
  b.writeBigUInt64LE(BigInt(addr), s + 32);
  b.writeBigUInt64LE(BigInt(textSize), s + 40);
  b.writeUInt32LE(textOffset, s + 48);
  b.writeUInt32LE(0x80000400, s + 64);
  return b;
}

test('code sections are found in ELF, PE and Mach-O headers', () => {
  const e = codeRegions(elf64(62, 0x1000, 0x3000, 0x401000, 0x6000));
  assert.deepEqual(
    e.map((r) => [r.kind, r.offset, r.length, r.vaddr]),
    [[KIND_X86, 0x1000, 0x3000, 0x401000]],
  );
  assert.deepEqual(
    codeRegions(elf64(183, 0x1000, 0x3000, 0x401000, 0x6000)).map((r) => r.kind),
    [KIND_ARM64],
  );
  const p = codeRegions(pe64(0x400, 0x2000, 0x1000, 0x4000));
  assert.deepEqual(
    p.map((r) => [r.kind, r.offset, r.length, r.vaddr]),
    [[KIND_X86, 0x400, 0x2000, 0x1000]],
  );
  const m = codeRegions(machO64arm(0x800, 0x1000, 0x100000800, 0x4000));
  assert.deepEqual(
    m.map((r) => [r.kind, r.offset, r.length, r.vaddr]),
    [[KIND_ARM64, 0x800, 0x1000, 0x100000800]],
  );
});

test('hostile or unknown headers give no regions or regions clamped to the file', () => {
  // Section table past the end of the file.
  const e = elf64(62, 0x1000, 0x3000, 0x401000, 0x6000);
  e.writeBigUInt64LE(2n ** 40n, 40);
  assert.deepEqual(codeRegions(e), []);
  // A section that claims to run past the end is cut at the end.
  const long = elf64(62, 0x1000, 0x3000, 0x401000, 0x6000);
  long.writeBigUInt64LE(2n ** 33n, 0x6000 - 2 * 64 + 32);
  assert.deepEqual(
    codeRegions(long).map((r) => [r.offset, r.length]),
    [[0x1000, 0x5000]],
  );
  // PE offset pointing outside, unknown machines, plain data.
  const p = pe64(0x400, 0x2000, 0x1000, 0x4000);
  p.writeUInt32LE(0xfffffff0, 0x3c);
  assert.deepEqual(codeRegions(p), []);
  assert.deepEqual(codeRegions(elf64(40, 0x1000, 0x3000, 0x401000, 0x6000)), []);
  assert.deepEqual(codeRegions(rand(10_000)), []);
  // Mach-O with a load command of size 0 (would loop) and too many commands.
  const m = machO64arm(0x800, 0x1000, 0x100000800, 0x4000);
  m.writeUInt32LE(0, 36);
  assert.deepEqual(codeRegions(m), []);
  const many = machO64arm(0x800, 0x1000, 0x100000800, 0x4000);
  many.writeUInt32LE(0xffffffff, 16);
  assert.deepEqual(codeRegions(many), []);
});

/**
 * An arm64 "program": code calling (BL) helpers at its start; `insert` words are added after the
 * helpers, so every later call's relative offset changes while its absolute target does not.
 */
function armProgram(insert: number): Buffer {
  const words = 60_000;
  const code = Buffer.alloc((words + insert) * 4);
  const r = prng(5);
  const noise = r(words * 4);
  let w = 0;
  const put = (v: number): void => {
    code.writeUInt32LE(v >>> 0, w * 4);
    w++;
  };
  for (let k = 0; k < words; k++) {
    if (k === 100) for (let j = 0; j < insert; j++) put(0xd503201f); // nop
    if (k % 5 === 0) {
      const target = (k * 7919) % 97;
      put(0x94000000 | ((target - w) & 0x03ffffff));
    } else put(noise.readUInt32LE(k * 4) & 0x7fffffff & ~0x14000000);
  }
  return code;
}

test('a format-2 patch of a changed arm64 Mach-O in a tar is exact and smaller than format 1', async () => {
  const exe = (insert: number): Buffer => {
    const code = armProgram(insert);
    const textOffset = 0x1000;
    const file = machO64arm(textOffset, code.length, 0x100001000, textOffset + code.length + 0x1000);
    code.copy(file, textOffset);
    return file;
  };
  const tar = (insert: number, note: string): Buffer =>
    rawTar([
      { name: 'app/bin/tool', data: exe(insert) },
      { name: 'app/readme.txt', data: note },
    ]);
  const oldTar = tar(0, 'v1');
  const newTar = tar(3, 'v2');
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'old'), oldTar);
    await writeFile(join(dir, 'new'), newTar);
    const sizes: number[] = [];
    for (const format of [1, 2] as const) {
      const info = await createPatch(join(dir, 'old'), join(dir, 'new'), join(dir, `p${format}`), { format });
      assert.equal(info.format, `notsotuf-diff-${format}`);
      sizes.push(info.patchLength);
      await applyPatch(join(dir, 'old'), join(dir, `p${format}`), join(dir, `out${format}`));
      assert.ok((await readFile(join(dir, `out${format}`))).equals(newTar), `format ${format} not exact`);
    }
    const p2 = await readFile(join(dir, 'p2'));
    const h = decodeAnyHeader(p2, p2.length);
    assert.ok(typeof h !== 'number');
    assert.equal(h.transforms.result.length, 1, 'the executable entry is transformed');
    assert.equal(h.transforms.result[0]!.regions[0]!.kind, KIND_ARM64);
    assert.ok(sizes[1]! < sizes[0]! * 0.8, `format 2 ${sizes[1]} B vs format 1 ${sizes[0]} B`);
  });
});
