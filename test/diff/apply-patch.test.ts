/**
 * applyPatch (src/diff/apply-patch.ts) on what the other diff tests leave out: a result larger than
 * its output buffers (1 MiB each, written while the next fills), the progress it reports, and the
 * messages of its refusals as the user reads them.
 */
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyPatch, createPatch } from '../../src/diff/index.js';
import { digest, handMadePatch, prng, withTempDir } from './helpers.js';

const rand = prng(11);

test('a result of several output buffers is rebuilt exactly; progress climbs to the total', async () => {
  const OLD = rand(3 * 1024 * 1024 + 12345);
  const NEW = Buffer.concat([OLD.subarray(0, 1_500_000), rand(5000), OLD.subarray(1_400_000)]);
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'old'), OLD);
    await writeFile(join(dir, 'new'), NEW);
    await createPatch(join(dir, 'old'), join(dir, 'new'), join(dir, 'patch'));
    const calls: [number, number][] = [];
    const got = await applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out'), {
      expectedSource: digest(OLD),
      expectedResult: digest(NEW),
      onProgress: (done, total) => calls.push([done, total]),
    });
    assert.deepEqual(got, digest(NEW));
    assert.ok((await readFile(join(dir, 'out'))).equals(NEW));
    assert.ok(calls.length >= 4, `${calls.length} progress calls for ${NEW.length} bytes`);
    for (let i = 1; i < calls.length; i++) assert.ok(calls[i]![0] >= calls[i - 1]![0], 'never goes back');
    assert.ok(calls.every(([, total]) => total === NEW.length));
    assert.deepEqual(calls.at(-1), [NEW.length, NEW.length]);
    assert.deepEqual((await readdir(dir)).sort(), ['new', 'old', 'out', 'patch'], 'no temp file left');
  });
});

test('refusals say what to do: wrong source (size, then digest), signed digests, a wrong result', async () => {
  const OLD = rand(5000);
  const result = Buffer.from('abcdef');
  const patch = handMadePatch({ source: OLD, result, ops: [[2, 6]], extra: result });
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'patch'), patch);
    const refused = async (old: Buffer, options: object, code: string, message: string): Promise<void> => {
      await writeFile(join(dir, 'old'), old);
      await assert.rejects(applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out'), options), {
        name: 'DataError',
        code,
        message,
      });
      assert.deepEqual((await readdir(dir)).sort(), ['old', 'patch']);
    };
    const old = join(dir, 'old');
    const wants = `the patch expects ${OLD.length} bytes with sha256 ${digest(OLD).sha256}`;
    await refused(
      OLD.subarray(1),
      {},
      'PATCH_WRONG_SOURCE',
      `${old} is not the archive this patch applies to (it has ${OLD.length - 1} bytes; ${wants}); use the matching old archive or download the full archive`,
    );
    const other = Buffer.from(OLD);
    other[7] = (other[7] ?? 0) ^ 1;
    await refused(
      other,
      {},
      'PATCH_WRONG_SOURCE',
      `${old} is not the archive this patch applies to (its sha256 is ${digest(other).sha256}; ${wants}); use the matching old archive or download the full archive`,
    );
    const p = join(dir, 'patch');
    await refused(
      OLD,
      { expectedSource: digest(other) },
      'PATCH_METADATA_MISMATCH',
      `the patch ${p} starts from a different archive than the signed metadata says; download the full archive`,
    );
    await refused(
      OLD,
      { expectedResult: { ...digest(result), length: 7 } },
      'PATCH_METADATA_MISMATCH',
      `the patch ${p} produces a different archive than the signed metadata says; download the full archive`,
    );
  });
  // signed digests that agree (the sha256 in upper-case hex is the same digest) let it apply
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'old'), OLD);
    await writeFile(join(dir, 'patch'), patch);
    const upper = (d: { sha256: string; length: number }) => ({ ...d, sha256: d.sha256.toUpperCase() });
    await applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out'), {
      expectedSource: upper(digest(OLD)),
      expectedResult: upper(digest(result)),
    });
    assert.ok((await readFile(join(dir, 'out'))).equals(result));
  });
});
