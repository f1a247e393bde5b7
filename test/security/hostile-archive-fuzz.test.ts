import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readlink, realpath, rm, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { unpackArchive } from '../../src/archive/index.js';
import { DataError } from '../../src/errors.js';
import { listTree, rawTar, tempDir } from '../archive/tar-builder.js';
import { prngNumbers as prng } from '../support/random.js';

const BASE = rawTar([
  { name: 'app/', type: '5' },
  { name: 'app/bin/', type: '5' },
  { name: 'app/bin/run', data: '#!/bin/sh\n', mode: 0o755 },
  { name: 'app/lib', pax: { path: `app/${'l'.repeat(120)}` }, data: 'library' },
  { name: 'app/current', type: '2', linkname: 'bin' },
  { name: 'app/data.bin', data: Buffer.alloc(700, 9) },
]);

// values an attacker would try in names, link targets, type flags and numbers
const NAMES = [
  '../x',
  '/abs',
  'app/current/x',
  'APP/x',
  'app/../../x',
  'C:/x',
  'a\\..\\x',
  'app/',
  'app/bin/run',
];
const LINKS = ['..', '../..', '/etc', 'current/..', 'bin/../..', '.', ''];
const TYPES = ['0', '1', '2', '3', '4', '5', '6', '7', 'x', 'g', 'L', '\0'];
const NUMBERS = ['77777777777', '00000000000', '1', '7777777', '\x80\0\0\0\0\0\0\0\0\0\0\x01', 'zz'];

function fixChecksum(tar: Buffer, block: number): void {
  const h = tar.subarray(block, block + 512);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
}

function mutate(rand: () => number): Buffer {
  const tar = Buffer.from(BASE);
  const blocks = tar.length / 512;
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
    const block = Math.floor(rand() * blocks) * 512;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const kind = Math.floor(rand() * 6);
    if (kind === 0) tar.fill(0, block, block + 100).write(pick(NAMES), block, 'utf8');
    else if (kind === 1) tar.fill(0, block + 157, block + 257).write(pick(LINKS), block + 157, 'utf8');
    else if (kind === 2) tar.write(pick(TYPES), block + 156, 'latin1');
    else if (kind === 3) tar.write(pick(NUMBERS).padEnd(12, '\0').slice(0, 12), block + 124, 'latin1');
    else if (kind === 4) tar[block + Math.floor(rand() * 512)] = Math.floor(rand() * 256);
    else tar.write(`${pick(NAMES)}\n`, block + Math.floor(rand() * 400), 'utf8'); // inside pax data too
    if (rand() < 0.85) fixChecksum(tar, block);
  }
  return tar;
}

async function assertInside(staging: string): Promise<void> {
  const root = await realpath(staging);
  for (const p of await listTree(staging)) {
    const full = join(staging, p);
    const s = await lstat(full);
    if (s.isSymbolicLink()) {
      const target = resolve(join(staging, p, '..'), await readlink(full));
      assert.ok(target === staging || target.startsWith(staging + sep), `symlink ${p} -> ${target} leaves`);
    } else {
      const real = await realpath(full);
      assert.ok(real.startsWith(root + sep), `${p} resolves outside: ${real}`);
    }
  }
}

test('mutated archives (200 seeded variants) either unpack inside the staging folder or are refused cleanly', async () => {
  const rand = prng(20261127);
  const root = await tempDir();
  try {
    await mkdir(join(root, 'outside'));
    await writeFile(join(root, 'outside', 'keep'), 'keep');
    let refused = 0;
    for (let i = 0; i < 200; i++) {
      const archive = join(root, 'fuzz.tar');
      await writeFile(archive, mutate(rand));
      const before = await listTree(root);
      const staging = join(root, 'stage');
      try {
        await unpackArchive(archive, staging);
        await assertInside(staging);
        await rm(staging, { recursive: true });
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        assert.ok(error instanceof DataError, `iteration ${i}: expected DataError, got ${String(error)}`);
        await assert.rejects(
          lstat(staging),
          { code: 'ENOENT' },
          `iteration ${i}: staging folder left behind`,
        );
        refused++;
      }
      assert.deepEqual(
        await listTree(root),
        before,
        `iteration ${i}: something changed outside the staging folder`,
      );
    }
    // the mutations must actually reach the checks: most variants are hostile or corrupt
    assert.ok(refused > 100, `only ${refused} of 200 refused`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
