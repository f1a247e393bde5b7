/**
 * Damaged Mach-O files must still round-trip exactly. The create side reads a Mach-O's load
 * commands, its `__unwind_info` header and its code signature (SuperBlob, CodeDirectory) to find
 * code, unwind tables and page hashes; a broken build, a packer or an attacker can make any of
 * those fields lie. Each case takes a signed arm64 Mach-O (machOArm64) and its next version, thin
 * or wrapped in a fat file, sets a few of those fields to edge values (0, 1, ~0, the file's length,
 * off by one, a page further) on one side or both, sometimes cuts the file short, and checks that
 * the patch rebuilds the new tar byte for byte. The same damage on 150 files from real releases
 * (fsevents, rollup's and numpy's Mach-O, ELF and PE libraries) found nothing either
 * (docs/benchmarks.md, "Unpicked release pairs"); this keeps the new parsing code honest.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyPatch, createPatch } from '../../src/diff/index.js';
import { prngNumbers } from '../support/random.js';
import { rawTar } from '../archive/tar-builder.js';
import { arm64Program, machOArm64 } from './arm64-exe.js';
import { withTempDir } from './helpers.js';

/** Offsets of the 32-bit fields the region finders read in the thin Mach-O at `base`. */
function machOFields(b: Buffer, base: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < 8; k++) out.push(base + k * 4);
  let at = base + 32;
  for (let k = 0; k < b.readUInt32LE(base + 16); k++) {
    const cmd = b.readUInt32LE(at);
    const size = b.readUInt32LE(at + 4);
    for (let j = 0; j < Math.min(size, 72); j += 4) out.push(at + j);
    if (cmd === 0x19) {
      for (let s = 0; s < b.readUInt32LE(at + 64); s++) {
        const sect = at + 72 + s * 80;
        for (let j = 32; j < 80; j += 4) out.push(sect + j);
        if (b.toString('latin1', sect, sect + 13) === '__unwind_info') {
          for (let j = 0; j < 40; j += 4) out.push(base + b.readUInt32LE(sect + 48) + j);
        }
      }
    }
    if (cmd === 0x1d) {
      const sig = base + b.readUInt32LE(at + 8);
      for (let j = 0; j < 24; j += 4) out.push(sig + j);
      for (let j = 0; j < 44; j += 4) out.push(sig + b.readUInt32BE(sig + 16) + j);
    }
    at += size;
  }
  return out;
}

/** `thin` alone, or in a fat file (two slices of it: the second at a 16 KB boundary). */
function wrap(thin: Buffer, fat: boolean): { file: Buffer; bases: number[] } {
  if (!fat) return { file: thin, bases: [0] };
  const second = 0x4000 + Math.ceil(thin.length / 0x4000) * 0x4000;
  const file = Buffer.alloc(second + thin.length);
  file.writeUInt32BE(0xcafebabe, 0);
  file.writeUInt32BE(2, 4);
  for (const [k, at] of [0x4000, second].entries()) {
    file.writeUInt32BE(0x0100000c, 8 + k * 20);
    file.writeUInt32BE(at, 8 + k * 20 + 8);
    file.writeUInt32BE(thin.length, 8 + k * 20 + 12);
    file.writeUInt32BE(14, 8 + k * 20 + 16);
    thin.copy(file, at);
  }
  return { file, bases: [0x4000, second] };
}

function damage(src: { file: Buffer; bases: number[] }, random: () => number): Buffer {
  const b = Buffer.from(src.file);
  const fields = src.bases.flatMap((base) => machOFields(b, base)).filter((o) => o + 4 <= b.length);
  if (src.bases[0] !== 0) for (let j = 0; j < 48; j += 4) fields.push(j);
  const pick = (n: number): number => Math.floor(random() * n);
  for (let i = 0, n = 1 + pick(4); i < n; i++) {
    const at = fields[pick(fields.length)] as number;
    const was = b.readUInt32LE(at);
    const values = [
      0,
      1,
      0xffffffff,
      0x7fffffff,
      b.length,
      b.length - 4,
      was + 1,
      was - 1,
      was + 4096,
      was * 2,
    ];
    const value = (values[pick(values.length)] as number) >>> 0;
    if (random() < 0.5) b.writeUInt32LE(value, at);
    else b.writeUInt32BE(value, at);
  }
  return random() < 0.2 ? b.subarray(0, Math.floor(b.length * (0.3 + 0.7 * random()))) : b;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const v1 = machOArm64(arm64Program(0, { funcs: 400, every: 7 }), { sign: true });
const v2 = machOArm64(arm64Program(6, { funcs: 400, every: 7 }), { sign: true });

for (const fat of [false, true]) {
  test(
    `damaged ${fat ? 'fat' : 'thin'} Mach-O headers and signatures round-trip`,
    { timeout: 300_000 },
    async () => {
      const random = prngNumbers(fat ? 2 : 1);
      const [a, b] = [wrap(v1, fat), wrap(v2, fat)];
      await withTempDir(async (dir) => {
        for (let c = 0; c < 16; c++) {
          // which side is damaged: the new one, the old one, both
          const side = c % 3;
          const old = side === 0 ? a.file : damage(a, random);
          const next = side === 1 ? b.file : damage(b, random);
          const tar = (exe: Buffer, note: string): Buffer =>
            rawTar([
              { name: 'app/lib/tool.dylib', data: exe },
              { name: 'app/VERSION', data: note },
            ]);
          const newTar = tar(next, 'v2');
          await writeFile(join(dir, 'old.tar'), tar(old, 'v1'));
          await writeFile(join(dir, 'new.tar'), newTar);
          await createPatch(join(dir, 'old.tar'), join(dir, 'new.tar'), join(dir, 'patch'));
          await applyPatch(join(dir, 'old.tar'), join(dir, 'patch'), join(dir, 'out.tar'));
          assert.equal(sha256(await readFile(join(dir, 'out.tar'))), sha256(newTar), `case ${c}`);
        }
      });
    },
  );
}
