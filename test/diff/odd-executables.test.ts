/**
 * Patches between real executables that are damaged or odd must still round-trip exactly. The
 * executable-aware parts of createPatch (machine-code transforms, reference prediction, unwind
 * tables, symbol names) read headers that a broken build, a packer or an attacker shapes, and must
 * fall back to plain bytes wherever those headers lie. The executable is esbuild's native binary
 * (a stripped, static x86-64 ELF of 11 MB that npm ci installs), changed in seeded ways; each
 * variant is packed as a release tar, patched, applied, and compared byte for byte.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { packTar } from '../../src/archive/index.js';
import { applyPatch, createPatch } from '../../src/diff/index.js';
import { prngNumbers } from '../support/random.js';
import { withTempDir } from '../support/temp-dir.js';

const require = createRequire(import.meta.url);
/** esbuild's native binary for this platform (an ELF on Linux, Mach-O on macOS, PE on Windows). */
const esbuildBinary = join(
  dirname(require.resolve(`@esbuild/${process.platform}-${process.arch}/package.json`)),
  process.platform === 'win32' ? 'esbuild.exe' : 'bin/esbuild',
);

type Variant = (exe: Buffer, random: () => number) => { old: Buffer; new: Buffer };

const at = (random: () => number, n: number): number => Math.floor(random() * n);

/** A few hundred flipped bits and a 4 KB block inserted a third of the way in (a "rebuild"). */
function rebuilt(exe: Buffer, random: () => number): Buffer {
  const out = Buffer.from(exe);
  for (let i = 0; i < 300; i++) {
    const p = at(random, out.length);
    out.writeUInt8(out.readUInt8(p) ^ (1 << at(random, 8)), p);
  }
  const cut = Math.floor(out.length / 3);
  return Buffer.concat([out.subarray(0, cut), Buffer.alloc(4096, 0x90), out.subarray(cut)]);
}

/** `exe` with `count` random bytes of its first `span` bytes (the headers) replaced. */
function noisyHeaders(exe: Buffer, random: () => number, span = 4096, count = 24): Buffer {
  const out = Buffer.from(exe);
  for (let i = 0; i < count; i++) out.writeUInt8(at(random, 256), at(random, Math.min(span, out.length)));
  return out;
}

const VARIANTS: Record<string, Variant> = {
  'a rebuilt executable (the honest case)': (exe, r) => ({ old: exe, new: rebuilt(exe, r) }),
  'the new one with noisy headers': (exe, r) => ({ old: exe, new: noisyHeaders(rebuilt(exe, r), r) }),
  'the old one with noisy headers': (exe, r) => ({ old: noisyHeaders(exe, r), new: rebuilt(exe, r) }),
  'the new one cut short (its headers point past the end)': (exe, r) => ({
    old: exe,
    new: rebuilt(exe, r).subarray(0, Math.floor(exe.length * (0.2 + 0.6 * r()))),
  }),
  'header tables placed past the end of the file': (exe, r) => {
    const lying = rebuilt(exe, r);
    // ELF64: e_phoff at 0x20, e_shoff at 0x28; PE: e_lfanew at 0x3c; Mach-O: ncmds at 0x10.
    lying.writeBigUInt64LE(0xfffffffffff0n, 0x20);
    lying.writeBigUInt64LE(BigInt(lying.length - 8), 0x28);
    lying.writeUInt32LE(0x7ffffff0, 0x3c);
    return { old: exe, new: lying };
  },
  'another file that starts with the same headers': (exe, r) => {
    const other = Buffer.alloc(exe.length);
    for (let i = 0; i < other.length; i += 4) other.writeUInt32LE(Math.floor(r() * 2 ** 32), i);
    exe.copy(other, 0, 0, 8192);
    return { old: exe, new: other };
  },
};

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

for (const [name, variant] of Object.entries(VARIANTS)) {
  test(`odd executables round-trip: ${name}`, { timeout: 300_000 }, async () => {
    const exe = await readFile(esbuildBinary);
    const { old, new: next } = variant(exe, prngNumbers(Object.keys(VARIANTS).indexOf(name) + 1));
    await withTempDir(async (dir) => {
      const tars: string[] = [];
      for (const [label, bytes] of [
        ['old', old],
        ['new', next],
      ] as const) {
        await mkdir(join(dir, label, 'bin'), { recursive: true });
        await writeFile(join(dir, label, 'bin', 'tool'), bytes, { mode: 0o755 });
        await writeFile(join(dir, label, 'VERSION'), label);
        const tar = join(dir, `${label}.tar`);
        await packTar(join(dir, label), tar);
        tars.push(tar);
      }
      const [oldTar, newTar] = tars as [string, string];
      const info = await createPatch(oldTar, newTar, join(dir, 'patch'));
      const result = await applyPatch(oldTar, join(dir, 'patch'), join(dir, 'out.tar'));
      const expected = await readFile(newTar);
      const rebuiltTar = await readFile(join(dir, 'out.tar'));
      assert.equal(sha256(rebuiltTar), sha256(expected), 'the rebuilt tar is the new tar');
      assert.equal(result.sha256, sha256(expected));
      assert.ok(info.patchLength > 0);
    });
  });
}
