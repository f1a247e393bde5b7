/**
 * applyPatch (src/diff/apply-patch.ts) when the files it reads fail it: an old archive that holds
 * fewer bytes than its size says (a sysfs file), and an old archive, its transformed copy or the
 * patch removed while the old archive is read. Real files and real faults; the moment to strike is
 * observed (the transformed copy appears in the output's folder), never guessed with a timer.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, watch } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyPatch } from '../../src/diff/index.js';
import { KIND_X86, transformInPlace, type Region } from '../../src/diff/exe-transform.js';
import { handMadePatch, withTempDir } from './helpers.js';

const MiB = 1 << 20;
const COPY = 0;

/** A sysfs file: its size is a page, what it holds a few bytes (Linux). */
const SYSFS_FILE = ['/sys/devices/system/cpu/online', '/sys/kernel/mm/transparent_hugepage/enabled'].find(
  (f) => existsSync(f) && statSync(f).size > readFileSync(f).length,
);

test(
  'an old archive that holds fewer bytes than its size says is refused for its sha256, not read forever',
  { skip: SYSFS_FILE === undefined && 'needs a sysfs file (Linux)', timeout: 120_000 },
  async () => {
    const path = SYSFS_FILE as string;
    const { size } = statSync(path);
    const holds = readFileSync(path);
    // A patch for a source of `size` bytes with a transformed region: the old archive is hashed
    // step by step then, and the step after its last byte gets 0 bytes.
    const source = Buffer.alloc(size, 0x90);
    const regions: Region[] = [{ kind: KIND_X86, start: 0, length: 16, vaddr: 0x1000, bits: 32 }];
    const patch = handMadePatch({
      source,
      result: source.subarray(0, 10),
      ops: [[COPY, 10]],
      transforms: { source: [{ start: 0, length: size, regions }], result: [] },
    });
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'patch'), patch);
      const sha = createHash('sha256').update(holds).digest('hex');
      await assert.rejects(applyPatch(path, join(dir, 'patch'), join(dir, 'out')), {
        name: 'DataError',
        code: 'PATCH_WRONG_SOURCE',
        message: new RegExp(`^${path} is not the archive this patch applies to \\(its sha256 is ${sha};`),
      });
      assert.deepEqual(await readdir(dir), ['patch']);
    });
  },
);

/**
 * Applies a patch with a transformed source region to a 32 MiB old archive and runs `strike` (with
 * the folder and the temp file's name) when the transformed copy of the old archive appears, which
 * is before the first of the 32 steps in which the old archive is hashed: the apply has everything
 * left to do. Returns the error and the names left in the folder.
 */
async function struckWhileHashing(strike: (dir: string, tempName: string) => void): Promise<{
  error: unknown;
  left: string[];
}> {
  const old = Buffer.alloc(32 * MiB, 0x55);
  const regions: Region[] = [{ kind: KIND_X86, start: 1000, length: 2000, vaddr: 0x401000, bits: 32 }];
  old.fill(0xe8, 1000, 3000);
  const transformed = Buffer.from(old.subarray(0, 5000));
  transformInPlace(transformed, regions, 1);
  const patch = handMadePatch({
    source: old,
    result: transformed,
    ops: [[COPY, 5000]],
    transforms: { source: [{ start: 0, length: old.length, regions }], result: [] },
  });
  return withTempDir(async (dir) => {
    await writeFile(join(dir, 'old'), old);
    await writeFile(join(dir, 'patch'), patch);
    let struck = false;
    const watcher = watch(dir, (_event, name) => {
      if (!struck && name !== null && name.startsWith('.tmp-')) {
        struck = true;
        strike(dir, name);
      }
    });
    try {
      const error = await applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out')).then(
        () => assert.fail('the apply succeeded'),
        (e: unknown) => e,
      );
      assert.ok(struck, 'the transformed copy never appeared');
      return { error, left: (await readdir(dir)).sort() };
    } finally {
      watcher.close();
    }
  });
}

test('an old archive removed while it is hashed is refused as missing, by that name', async () => {
  let gone = '';
  const { error, left } = await struckWhileHashing((dir) => {
    gone = join(dir, 'old');
    rmSync(gone);
  });
  assert.deepEqual(left, ['patch']);
  assert.ok(error instanceof Error);
  assert.equal((error as { code?: string }).code, 'FILE_NOT_FOUND');
  assert.equal(error.name, 'UsageError');
  assert.equal(error.message, `old archive ${gone} does not exist`);
});

test('the transformed copy of the old archive removed while it is written is refused by that name', async () => {
  let gone = '';
  const { error, left } = await struckWhileHashing((dir, name) => {
    gone = join(dir, name);
    rmSync(gone);
  });
  assert.deepEqual(left, ['old', 'patch']);
  assert.ok(error instanceof Error);
  assert.equal((error as { code?: string }).code, 'FILE_NOT_FOUND');
  assert.equal(error.name, 'UsageError');
  assert.equal(error.message, `temporary file ${gone} does not exist`);
});

test(
  'a patch removed after its checksum was checked is refused, not waited for',
  { timeout: 120_000 },
  async () => {
    const { error, left } = await struckWhileHashing((dir) => rmSync(join(dir, 'patch')));
    assert.deepEqual(left, ['old']);
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'DataError');
    assert.equal((error as { code?: string }).code, 'PATCH_CORRUPT');
    assert.match(error.message, /: its control stream does not decompress;/);
    assert.equal((error.cause as { code?: string } | undefined)?.code, 'ENOENT');
  },
);
