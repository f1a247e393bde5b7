import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unpackArchive } from '../../src/archive/index.js';
import { InstallError } from '../../src/errors.js';
import { assertRefused, gz, header, rawTar, tempDir, unpackBytes } from './tar-builder.js';

test('unpacks into an existing empty staging folder', async () => {
  const root = await tempDir();
  try {
    await writeFile(join(root, 'a.tar'), rawTar([{ name: 'f', data: 'x' }]));
    await mkdir(join(root, 'stage'));
    const tar = rawTar([{ name: 'f', data: 'x' }]);
    const { entries, bytes, tar: digest } = await unpackArchive(join(root, 'a.tar'), join(root, 'stage'));
    assert.deepEqual({ entries, bytes }, { entries: 1, bytes: 1 });
    assert.deepEqual(digest, { sha256: createHash('sha256').update(tar).digest('hex'), length: tar.length });
    assert.equal(await readFile(join(root, 'stage', 'f'), 'utf8'), 'x');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('refuses a staging folder that is not empty and leaves it untouched', async () => {
  const root = await tempDir();
  try {
    await writeFile(join(root, 'a.tar'), rawTar([{ name: 'f', data: 'x' }]));
    await mkdir(join(root, 'stage'));
    await writeFile(join(root, 'stage', 'keep'), 'mine');
    await assert.rejects(unpackArchive(join(root, 'a.tar'), join(root, 'stage')), {
      name: 'UsageError',
      code: 'STAGING_NOT_EMPTY',
    });
    assert.deepEqual(await readdir(join(root, 'stage')), ['keep']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a missing archive is a UsageError and creates no staging folder', async () => {
  const root = await tempDir();
  try {
    await assert.rejects(unpackArchive(join(root, 'nope.tar.gz'), join(root, 'stage')), {
      name: 'UsageError',
      code: 'ARCHIVE_NOT_FOUND',
    });
    assert.deepEqual(await readdir(root), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('normalises modes: setuid and group/world-write bits are dropped, exec bits kept', async () => {
  const { root, staging } = await unpackBytes(
    rawTar([
      { name: 'd/', type: '5', mode: 0o777 },
      { name: 'd/suid', data: 'x', mode: 0o4755 },
      { name: 'd/private', data: 'x', mode: 0o600 },
      { name: 'd/world', data: 'x', mode: 0o666 },
      { name: 'd/user-exec', data: 'x', mode: 0o700 },
    ]),
  );
  try {
    const mode = async (p: string): Promise<number> => (await lstat(join(staging, p))).mode & 0o7777;
    assert.equal(await mode('d'), 0o755);
    assert.equal(await mode('d/suid'), 0o755);
    assert.equal(await mode('d/private'), 0o644);
    assert.equal(await mode('d/world'), 0o644);
    assert.equal(await mode('d/user-exec'), 0o755);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('keeps internal symlinks, including ones to folders and dangling ones that stay inside', async () => {
  const { root, staging } = await unpackBytes(
    rawTar([
      { name: 'Versions/', type: '5' },
      { name: 'Versions/A/', type: '5' },
      { name: 'Versions/A/lib', data: 'lib' },
      { name: 'Versions/Current', type: '2', linkname: 'A' },
      { name: 'lib', type: '2', linkname: 'Versions/Current/lib' },
      { name: 'later', type: '2', linkname: 'not-yet-there' },
    ]),
  );
  try {
    assert.equal(await readlink(join(staging, 'Versions', 'Current')), 'A');
    assert.equal(await readFile(join(staging, 'lib'), 'utf8'), 'lib');
    assert.equal(await readlink(join(staging, 'later')), 'not-yet-there');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('honours the ustar prefix field and pax paths for long and unicode names', async () => {
  const long = `${'x'.repeat(150)}/é-${'y'.repeat(120)}`;
  const { root, staging } = await unpackBytes(
    rawTar([
      { name: 'p/', type: '5' },
      { name: 'f', prefix: 'p', data: 'prefixed' },
      { name: `${'x'.repeat(99)}`, pax: { path: `${'x'.repeat(150)}/` }, type: '5' },
      { name: 'trunc', pax: { path: long }, data: 'long' },
    ]),
  );
  try {
    assert.equal(await readFile(join(staging, 'p', 'f'), 'utf8'), 'prefixed');
    assert.equal(await readFile(join(staging, ...long.split('/')), 'utf8'), 'long');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('refuses a header whose checksum does not match', async () => {
  const tar = rawTar([{ name: 'f', data: 'x' }]);
  tar[0] = 'g'.charCodeAt(0); // rename without fixing the checksum
  await assertRefused(tar, 'ARCHIVE_CORRUPT', { message: /checksum/ });
});

test('refuses a truncated archive (file data cut short) and removes what it wrote', async () => {
  const tar = rawTar([
    { name: 'a', data: 'complete' },
    { name: 'b', data: Buffer.alloc(4000, 1) },
  ]);
  await assertRefused(tar.subarray(0, 512 * 3 + 100), 'ARCHIVE_CORRUPT', { message: /middle of a file/ });
});

test('refuses an archive without end-of-archive blocks', async () => {
  await assertRefused(rawTar([{ name: 'a', data: 'x' }], { end: false }), 'ARCHIVE_CORRUPT', {
    message: /end-of-archive/,
  });
});

test('refuses a truncated gzip stream', async () => {
  const root = await tempDir();
  try {
    const bytes = gz(rawTar([{ name: 'a', data: Buffer.alloc(100_000, 3) }]));
    await writeFile(join(root, 'a.tar.gz'), bytes.subarray(0, bytes.length - 20));
    await assert.rejects(unpackArchive(join(root, 'a.tar.gz'), join(root, 'stage')), {
      name: 'DataError',
      code: 'ARCHIVE_CORRUPT',
    });
    assert.deepEqual(await readdir(root), ['a.tar.gz']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('refuses base-256 numbers, which notsotuf never writes', async () => {
  const h = header({ name: 'f', type: '0', size: 0 });
  h[124] = 0x80; // base-256 marker in the size field
  let sum = 0;
  h.fill(0x20, 148, 156);
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  await assertRefused(Buffer.concat([h, Buffer.alloc(1024)]), 'ARCHIVE_CORRUPT', { message: /base-256/ });
});

test('refuses a directory or symlink that claims data', async () => {
  await assertRefused(rawTar([{ name: 'd/', type: '5', data: 'hidden' }]), 'ARCHIVE_CORRUPT', {
    message: /dir with data/,
  });
});

test('an abort stops the unpack and removes the staging folder', async () => {
  const root = await tempDir();
  try {
    await writeFile(join(root, 'a.tar'), rawTar([{ name: 'f', data: 'x' }]));
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      unpackArchive(join(root, 'a.tar'), join(root, 'stage'), { signal: controller.signal }),
      {
        name: 'AbortError',
      },
    );
    assert.deepEqual(await readdir(root), ['a.tar']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('refuses a symlink with an empty target', async () => {
  await assertRefused(rawTar([{ name: 'empty-link', type: '2', linkname: '' }]), 'ARCHIVE_BAD_PATH', {
    message: /target is empty/,
  });
});

test('a staging folder that cannot be created is an InstallError naming it', async () => {
  const root = await tempDir();
  try {
    await writeFile(join(root, 'a.tar'), rawTar([{ name: 'f', data: 'x' }]));
    await writeFile(join(root, 'file'), 'not a folder');
    await assert.rejects(unpackArchive(join(root, 'a.tar'), join(root, 'file', 'stage')), (e: unknown) => {
      assert.ok(e instanceof InstallError, String(e));
      assert.equal(e.code, 'STAGING_FAILED');
      assert.match(e.message, /cannot create staging folder/);
      return true;
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('expectedTar: unpacks when the tar matches the signed digest, refuses and cleans up when it does not', async () => {
  const root = await tempDir();
  try {
    const tar = rawTar([{ name: 'f', data: 'signed' }]);
    await writeFile(join(root, 'a.tar.gz'), gz(tar));
    const signed = { sha256: createHash('sha256').update(tar).digest('hex'), length: tar.length };
    const ok = await unpackArchive(join(root, 'a.tar.gz'), join(root, 'ok'), { expectedTar: signed });
    assert.deepEqual(ok.tar, signed);

    const other = rawTar([{ name: 'f', data: 'evil!!' }]); // same length, other bytes
    await writeFile(join(root, 'b.tar.gz'), gz(other));
    await assert.rejects(unpackArchive(join(root, 'b.tar.gz'), join(root, 'bad'), { expectedTar: signed }), {
      name: 'DataError',
      code: 'TAR_DIGEST_MISMATCH',
    });
    const longer = rawTar([
      { name: 'f', data: 'signed' },
      { name: 'g', data: 'more' },
    ]);
    await writeFile(join(root, 'c.tar.gz'), gz(longer));
    await assert.rejects(
      unpackArchive(join(root, 'c.tar.gz'), join(root, 'bad'), { expectedTar: signed }),
      /more than the signed/,
    );
    assert.deepEqual((await readdir(root)).sort(), ['a.tar.gz', 'b.tar.gz', 'c.tar.gz', 'ok']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
