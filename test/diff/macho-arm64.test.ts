import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { refRegions, unwindTables } from '../../src/diff/exe-regions.js';
import { KIND_ARM64, KIND_DELTA, transformInPlace } from '../../src/diff/exe-transform.js';
import { decodeAnyHeader } from '../../src/diff/format-2.js';
import { applyPatch, createPatch } from '../../src/diff/index.js';
import {
  EquivalenceMap,
  KIND_REF_ARM64,
  KIND_REF_DATA,
  KIND_REF_X86,
  Predictor,
  SegmentList,
} from '../../src/diff/ref-predict.js';
import type { TransformEntry } from '../../src/diff/transform-table.js';
import { rawTar } from '../archive/tar-builder.js';
import { arm64Program, elfArm64, machOArm64 } from './arm64-exe.js';
import { prng, withTempDir } from './helpers.js';

/** File offset of the __unwind_info section of a file made by machOArm64 (its second section). */
function unwindOffset(file: Buffer): number {
  return file.readUInt32LE(32 + 72 + 80 + 48);
}

test('the __unwind_info tables of a Mach-O are DELTA regions: index, LSDA index, pages', () => {
  const file = machOArm64(arm64Program(0));
  const at = unwindOffset(file);
  const index = file.readUInt32LE(at + 20);
  const count = file.readUInt32LE(at + 24);
  const lsda = file.readUInt32LE(at + index + 8);
  const pages = file.readUInt32LE(at + index + 4);
  const size = Number(file.readBigUInt64LE(32 + 72 + 80 + 40));
  assert.deepEqual(
    unwindTables(file).map((r) => [r.kind, r.offset, r.length, r.bits, r.vaddr]),
    [
      [KIND_DELTA, at + index, count * 12, 3, 0],
      [KIND_DELTA, at + lsda, pages - lsda, 2, 0],
      [KIND_DELTA, at + pages, size - pages, 2, 0],
    ],
  );
  // In a fat file, at the slice's offset.
  const fat = Buffer.alloc(0x4000 + file.length);
  fat.writeUInt32BE(0xcafebabe, 0);
  fat.writeUInt32BE(1, 4);
  fat.writeUInt32BE(0x0100000c, 8);
  fat.writeUInt32BE(0x4000, 16);
  fat.writeUInt32BE(file.length, 20);
  file.copy(fat, 0x4000);
  assert.deepEqual(
    unwindTables(fat).map((r) => r.offset),
    unwindTables(file).map((r) => 0x4000 + r.offset),
  );
  // Another version, or an index past the section: no tables.
  const v2 = Buffer.from(file);
  v2.writeUInt32LE(2, at);
  assert.deepEqual(unwindTables(v2), []);
  const long = Buffer.from(file);
  long.writeUInt32LE(1_000_000, at + 24);
  assert.deepEqual(unwindTables(long), []);
  assert.deepEqual(unwindTables(machOArm64(arm64Program(0), { unwind: false })), []);
  // An x86-64 Mach-O: the tables are cut out of the data regions for reference prediction.
  const x86 = refRegions(machOArm64(arm64Program(0), { cpu: 0x01000007 }));
  assert.deepEqual(
    x86.map((r) => r.kind),
    [KIND_REF_X86, KIND_REF_DATA, KIND_DELTA, KIND_DELTA, KIND_DELTA, KIND_REF_DATA],
  );
});

test('an arm64 Mach-O whose unwind tables shifted: the patch is exact and the tables cost little', async () => {
  const tar = (grow: number, note: string): Buffer =>
    rawTar([
      { name: 'app/bin/tool', data: machOArm64(arm64Program(grow, { funcs: 3000, every: 7, refs: false })) },
      { name: 'app/readme.txt', data: note },
    ]);
  await withTempDir(async (dir) => {
    const sizes: number[] = [];
    for (const understood of [true, false]) {
      const newTar = tar(6, 'v2');
      const oldTar = tar(0, 'v1');
      if (!understood) {
        // A version the region finder does not take: the same bytes, diffed plain.
        for (const t of [oldTar, newTar]) {
          const file = 512;
          t.writeUInt32LE(2, file + unwindOffset(t.subarray(file)));
        }
      }
      await writeFile(join(dir, 'old'), oldTar);
      await writeFile(join(dir, 'new'), newTar);
      const patch = join(dir, `p-${understood}`);
      sizes.push((await createPatch(join(dir, 'old'), join(dir, 'new'), patch)).patchLength);
      await applyPatch(join(dir, 'old'), patch, join(dir, 'out'));
      assert.ok((await readFile(join(dir, 'out'))).equals(newTar), 'not exact');
      const p = await readFile(patch);
      const h = decodeAnyHeader(p, p.length);
      assert.ok(typeof h !== 'number');
      const kinds = h.transforms.result.flatMap((e) => e.regions.map((r) => r.kind));
      assert.equal(kinds.filter((k) => k === KIND_DELTA).length, understood ? 3 : 0, `kinds ${kinds.join()}`);
      assert.ok(kinds.includes(KIND_REF_ARM64), 'the code is predicted');
    }
    assert.ok(sizes[0]! < sizes[1]! * 0.9, `with the tables ${sizes[0]} B, without ${sizes[1]} B`);
  });
});

test('reference regions of arm64 executables: code (kind 8) and data, in Mach-O and ELF', () => {
  const m = refRegions(machOArm64(arm64Program(0), { unwind: false }));
  assert.deepEqual(
    m.map((r) => [r.kind, r.bits]),
    [
      [KIND_REF_ARM64, 1],
      [KIND_REF_DATA, 1],
    ],
  );
  assert.equal(m[0]!.vaddr, arm64Program(0).codeAddr);
  const e = refRegions(elfArm64(arm64Program(0)));
  assert.deepEqual(
    e.map((r) => [r.kind, r.bits, r.vaddr]),
    [
      [KIND_REF_ARM64, 1, arm64Program(0).codeAddr],
      [KIND_REF_DATA, 1, arm64Program(0).dataAddr],
    ],
  );
  // Another CPU (arm64_32 here) or machine (riscv): none.
  assert.deepEqual(refRegions(machOArm64(arm64Program(0), { cpu: 0x0200000c })), []);
  const riscv = elfArm64(arm64Program(0));
  riscv.writeUInt16LE(243, 18);
  assert.deepEqual(refRegions(riscv), []);
});

for (const [name, make] of [
  ['Mach-O', (grow: number) => machOArm64(arm64Program(grow))],
  ['ELF', (grow: number) => elfArm64(arm64Program(grow))],
] as const) {
  test(`arm64 ${name}: a patch with reference prediction is exact and much smaller than without`, async () => {
    const tar = (grow: number, note: string): Buffer =>
      rawTar([
        { name: 'app/bin/tool', data: make(grow) },
        { name: 'app/readme.txt', data: note },
      ]);
    const oldTar = tar(0, 'v1');
    const newTar = tar(6, 'v2');
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'old'), oldTar);
      await writeFile(join(dir, 'new'), newTar);
      const sizes: number[] = [];
      const kinds: number[][] = [];
      for (const predict of [false, true]) {
        const patch = join(dir, `p-${predict}`);
        sizes.push((await createPatch(join(dir, 'old'), join(dir, 'new'), patch, { predict })).patchLength);
        await applyPatch(join(dir, 'old'), patch, join(dir, `out-${predict}`));
        assert.ok(
          (await readFile(join(dir, `out-${predict}`))).equals(newTar),
          `not exact, predict ${predict}`,
        );
        const p = await readFile(patch);
        const h = decodeAnyHeader(p, p.length);
        assert.ok(typeof h !== 'number');
        kinds.push(h.transforms.result.flatMap((e) => e.regions.map((r) => r.kind)));
      }
      // Without prediction the code is transformed all the same (kind 2).
      assert.ok(kinds[0]!.includes(KIND_ARM64) && !kinds[0]!.includes(KIND_REF_ARM64), `${kinds[0]!.join()}`);
      assert.ok(
        kinds[1]!.includes(KIND_REF_ARM64) && kinds[1]!.includes(KIND_REF_DATA),
        `${kinds[1]!.join()}`,
      );
      assert.ok(sizes[1]! < sizes[0]! * 0.5, `with prediction ${sizes[1]} B, without ${sizes[0]} B`);
    });
  });
}

/**
 * Predicts the references of an ADD record over the arm64 program's code (old version 0, new
 * version with grown functions: runs of the map follow the functions), cut into pieces by `cut`
 * (a piece size for each position); returns the predicted old bytes.
 */
function predictArm64(cut: (pos: number) => number): Buffer {
  const a = arm64Program(0);
  const b = arm64Program(5);
  // One archive per version: the code at 0, the data right after it.
  const old = Buffer.concat([a.code, a.data]);
  const region = (kind: number, start: number, length: number, vaddr: number) => ({
    kind,
    start,
    length,
    vaddr,
    bits: 1,
  });
  const entry = (p: typeof a): TransformEntry => ({
    start: 0,
    length: p.code.length + p.data.length,
    regions: [
      region(KIND_REF_ARM64, 0, p.code.length, p.codeAddr),
      region(KIND_REF_DATA, p.code.length, p.data.length, p.dataAddr),
    ],
  });
  const source = [entry(a)];
  const result = [entry(b)];
  transformInPlace(old, source[0]!.regions, 1);
  // The map: each old function to its new place, the data to its new place.
  const segments = new SegmentList(source);
  for (let f = 0; f < a.starts.length; f++) {
    const len = (a.starts[f + 1] ?? a.code.length) - a.starts[f]!;
    segments.add(b.starts[f]!, a.starts[f]!, len);
    segments.end();
  }
  segments.add(b.code.length, a.code.length, a.data.length);
  const map = new EquivalenceMap(segments);
  const p = new Predictor(source, result, map);
  // An ADD record per function (as the matcher makes them) and one for the data.
  const out: Buffer[] = [];
  const records = [...a.starts, a.code.length, old.length];
  for (let k = 0; k + 1 < records.length; k++) {
    const start = records[k]!;
    const end = records[k + 1]!;
    p.begin(start, k < a.starts.length ? b.starts[k]! : b.code.length, end - start);
    for (let pos = start; pos < end;) {
      const n = Math.min(end - pos, cut(pos));
      const buf = Buffer.from(old.subarray(pos, pos + n));
      p.piece(buf, 0, pos, n, old.subarray(pos + n, Math.min(end, pos + n + 8)));
      out.push(buf);
      pos += n;
    }
  }
  assert.ok(p.predicted > 1000, `${p.predicted} references predicted`);
  return Buffer.concat(out);
}

test('arm64 prediction does not depend on how a record is cut into pieces; its output is pinned', () => {
  const whole = predictArm64(() => 1 << 30);
  for (let trial = 0; trial < 12; trial++) {
    const r = prng(trial + 70);
    const got = predictArm64((pos) => (trial < 4 ? [1, 3, 4, 6][trial]! : 1 + ((r(1)[0]! + pos) % 37)));
    assert.ok(got.equals(whole), `trial ${trial} differs`);
  }
  // A changed prediction would make patches already published fail their result hash: pinned.
  assert.equal(
    createHash('sha256').update(whole).digest('hex'),
    '721a43c89516d56ae03cb4e4b17bec467cb3eb07b67de570a4c549405367884c',
  );
});
