import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { refRegions, unwindTables } from '../../src/diff/exe-regions.js';
import { KIND_ARM64, KIND_DELTA } from '../../src/diff/exe-transform.js';
import { decodeAnyHeader } from '../../src/diff/format-2.js';
import { applyPatch, createPatch } from '../../src/diff/index.js';
import { KIND_REF_DATA, KIND_REF_X86 } from '../../src/diff/ref-predict.js';
import { rawTar } from '../archive/tar-builder.js';
import { arm64Program, machOArm64 } from './arm64-exe.js';
import { withTempDir } from './helpers.js';

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
      assert.ok(kinds.includes(KIND_ARM64));
    }
    assert.ok(sizes[0]! < sizes[1]! * 0.8, `with the tables ${sizes[0]} B, without ${sizes[1]} B`);
  });
});
