/**
 * A symlink planted in the staging folder while an archive unpacks (another local process racing
 * the client, or a staging folder on a shared disk): the archive's own entries are all checked, but
 * the name a file is written to could now be a link to a file outside. Every file is created with
 * 'wx' (O_CREAT | O_EXCL), which never reuses or follows an existing name, so the write fails and
 * the file outside is untouched. The plant happens from onProgress, which runs for the first chunk
 * of the tar before any entry of it is written: no timing guess.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { symlinkSync } from 'node:fs';
import { lstat, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { unpackArchive } from '../../src/archive/unpack.js';
import { rawTar, tempDir } from '../archive/tar-builder.js';

for (const { label, size } of [
  { label: 'a small (buffered) file', size: 1000 },
  { label: 'a large (streamed) file', size: 600 * 1024 },
]) {
  test(`a symlink planted in staging before ${label} is written: the write does not follow it, the file outside is unchanged`, async () => {
    const root = await tempDir();
    try {
      const victim = join(root, 'victim.txt');
      await writeFile(victim, 'precious');
      const archivePath = join(root, 'app.tar');
      await writeFile(
        archivePath,
        rawTar([
          { name: 'README', data: 'hello' },
          { name: 'app.bin', data: randomBytes(size) },
        ]),
      );
      const staging = join(root, 'stage');
      let planted = false;
      await assert.rejects(
        unpackArchive(archivePath, staging, {
          onProgress: () => {
            if (planted) return;
            planted = true;
            // Synchronous on purpose: it must land before the entries of this chunk are written.
            symlinkSync(victim, join(staging, 'app.bin'));
          },
        }),
        (e: Error & { code?: string }) => {
          assert.equal(e.name, 'InstallError', e.message);
          assert.equal(e.code, 'UNPACK_FAILED');
          assert.match(e.message, /EEXIST/);
          return true;
        },
      );
      assert.ok(planted);
      assert.equal(await readFile(victim, 'utf8'), 'precious', 'the file outside staging was written');
      await assert.rejects(lstat(staging), { code: 'ENOENT' }, 'the staging folder is removed');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
}
