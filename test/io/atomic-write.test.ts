import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { writeFileAtomic, writeFileAtomicSync, writeFilesAtomic } from '../../src/io/atomic-write.js';
import { digestBytes, digestFile, hashFile } from '../../src/io/digest.js';
import { fsError } from '../../src/io/fs-error.js';
import { isTempName, tempPathFor } from '../../src/io/temp-name.js';
import { InstallError, UsageError } from '../../src/errors.js';
import { withTempDir } from '../support/temp-dir.js';

test('temp paths sit beside their file under a name every clean-up recognises', () => {
  const tmp = tempPathFor('/repo/metadata/2.targets.json');
  assert.match(tmp, /^\/repo\/metadata\/\.tmp-[0-9a-f]{12}-2\.targets\.json$/);
  assert.ok(isTempName(basename(tmp)));
  assert.notEqual(tempPathFor('/a/b'), tempPathFor('/a/b'), 'two writers never share a temp file');
  for (const name of ['2.targets.json', 'app-1.0.0.tar.gz', 'x.tmp', 'a.partial', 'update.lock', 'tmp-x'])
    assert.equal(isTempName(name), false, name);
});

test('an atomic write replaces the file whole and leaves no temp file; a failed one leaves the old file', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'state.json');
    await writeFile(path, 'old');
    await writeFileAtomic(path, 'new');
    await writeFileAtomic(path, [Buffer.from('ne'), Buffer.from('west')]);
    assert.equal(await readFile(path, 'utf8'), 'newest');
    writeFileAtomicSync(path, Buffer.from('sync'), { mode: 0o600 });
    assert.equal(await readFile(path, 'utf8'), 'sync');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    await assert.rejects(writeFileAtomic(join(dir, 'missing', 'x'), 'y'), { code: 'ENOENT' });
    await writeFileAtomic(join(dir, 'made', 'x'), 'y', { makeParent: true });
    assert.deepEqual((await readdir(dir)).sort(), ['made', 'state.json']);
  }));

test('several files: all renamed into place, or none and no temp files', () =>
  withTempDir(async (dir) => {
    const finals = [join(dir, 'a'), join(dir, 'b')];
    await assert.rejects(
      writeFilesAtomic(finals, async ([a]) => {
        await writeFile(a as string, 'half');
        throw new Error('writer died');
      }),
      { message: 'writer died' },
    );
    assert.deepEqual(await readdir(dir), []);
    const n = await writeFilesAtomic(finals, async (temps) => {
      for (const t of temps) await writeFile(t, basename(t));
      return temps.length;
    });
    assert.equal(n, 2);
    assert.deepEqual((await readdir(dir)).sort(), ['a', 'b']);
  }));

test('a file digest is the digest of its bytes; with maxLength it reads one byte past', () =>
  withTempDir(async (dir) => {
    const bytes = Buffer.alloc(3 << 20, 7);
    const path = join(dir, 'f');
    await writeFile(path, bytes);
    assert.deepEqual(await digestFile(path), digestBytes(bytes));
    assert.deepEqual(await digestFile(path, { maxLength: 10 }), digestBytes(bytes.subarray(0, 11)));
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(digestFile(path, { signal: ac.signal }), { name: 'AbortError' });
  }));

test('a file hashes with the algorithm asked for (md5 for S3, sha512 for TUF), sha256 by default', () =>
  withTempDir(async (dir) => {
    const bytes = Buffer.concat([Buffer.alloc(1 << 20, 1), Buffer.from('tail')]);
    const path = join(dir, 'f');
    await writeFile(path, bytes);
    for (const algorithm of ['md5', 'sha512', 'sha256'] as const)
      assert.deepEqual(await hashFile(path, { algorithm }), {
        hex: createHash(algorithm).update(bytes).digest('hex'),
        length: bytes.length,
      });
    assert.equal((await hashFile(path)).hex, digestBytes(bytes).sha256);
    assert.deepEqual(await hashFile(path, { algorithm: 'md5', maxLength: 3 }), {
      hex: createHash('md5').update(bytes.subarray(0, 4)).digest('hex'),
      length: 4,
    });
  }));

test('file-system errors map to ours: a full disk says so, a missing input is a usage error', () =>
  withTempDir(async (dir) => {
    const failure = async (path: string): Promise<unknown> => readFile(path).catch((e: unknown) => e);
    const missing = await failure(join(dir, 'nope'));
    assert.ok(
      fsError(missing, 'nope', { what: 'patch', input: true, code: 'FILE_IO' }) instanceof UsageError,
    );
    const other = fsError(missing, 'nope', { what: 'patch', code: 'WRITE_FAILED' });
    assert.ok(other instanceof InstallError && other.code === 'WRITE_FAILED');
    await mkdir(join(dir, 'd'));
    const folder = fsError(await failure(join(dir, 'd')), 'd', {
      what: 'patch',
      input: true,
      code: 'FILE_IO',
    });
    assert.equal((folder as UsageError).code, 'NOT_A_FILE');
    const full = Object.assign(new Error('ENOSPC: no space left on device'), {
      code: 'ENOSPC',
      syscall: 'write',
    });
    const mapped = fsError(full, '/x', {
      what: 'output',
      code: 'FILE_IO',
      afterFreeingSpace: 'run it again.',
    });
    assert.ok(mapped instanceof InstallError && mapped.code === 'DISK_FULL');
    assert.match(mapped.message, /disk is full.*\/x.*run it again\./);
    assert.equal(mapped.cause, full);
    const cancelled = new DOMException('stop', 'AbortError');
    assert.equal(
      fsError(cancelled, '/x', { what: 'output', code: 'FILE_IO' }),
      cancelled,
      'not a file-system error',
    );
  }));
