/**
 * unpackArchive at its edges: every limit is inclusive (exactly at the limit unpacks, one more is
 * refused, counted in bytes, not characters), what an unpacked tree keeps (modes, times, contents
 * of small and streamed files), what it reports (progress, digest) and how the errors read. Written
 * from the survivors of the mutation run of src/archive/unpack.ts (docs/security.md).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { lstat, mkdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { unpackArchive } from '../../src/archive/index.js';
import type { UnpackLimits } from '../../src/archive/index.js';
import { assertRefused, gz, listTree, rawTar, tempDir } from './tar-builder.js';
import type { RawEntry } from './tar-builder.js';

/** The mtime tar-builder writes into every header (2000-01-01T00:00:00Z). */
const MTIME_MS = 946684800 * 1000;

async function unpacks(
  entries: RawEntry[],
  limits: Partial<UnpackLimits> = {},
): Promise<{ entries: number; bytes: number; tree: string[] }> {
  const root = await tempDir();
  try {
    await writeFile(join(root, 'ok.tar'), rawTar(entries));
    const staging = join(root, 'stage');
    const r = await unpackArchive(join(root, 'ok.tar'), staging, { limits });
    return { entries: r.entries, bytes: r.bytes, tree: await listTree(staging) };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

test('maxEntries: exactly the limit unpacks, one more is refused naming the limit', async () => {
  const files = (n: number): RawEntry[] =>
    Array.from({ length: n }, (_, i) => ({ name: `f${i}`, data: 'x' }));
  assert.equal((await unpacks(files(10), { maxEntries: 10 })).entries, 10);
  await assertRefused(rawTar(files(11)), 'ARCHIVE_TOO_MANY_ENTRIES', {
    limits: { maxEntries: 10 },
    message: /^refused archive entry "f10": the archive has more than 10 entries\. Nothing was installed/,
  });
});

test('maxEntryBytes: a file of exactly the limit unpacks, one byte more is refused before it is written', async () => {
  assert.equal(
    (await unpacks([{ name: 'f', data: Buffer.alloc(1000) }], { maxEntryBytes: 1000 })).bytes,
    1000,
  );
  await assertRefused(rawTar([{ name: 'f', data: Buffer.alloc(1001) }]), 'ARCHIVE_ENTRY_TOO_LARGE', {
    limits: { maxEntryBytes: 1000 },
    message: /"f": it is 1001 bytes, over the limit of 1000 bytes per file/,
  });
});

test('maxTotalBytes: files adding up to exactly the limit unpack, one byte more is refused', async () => {
  const two = (second: number): RawEntry[] => [
    { name: 'a', data: Buffer.alloc(600) },
    { name: 'b', data: Buffer.alloc(second) },
  ];
  assert.equal((await unpacks(two(400), { maxTotalBytes: 1000 })).bytes, 1000);
  await assertRefused(rawTar(two(401)), 'ARCHIVE_TOO_LARGE', {
    limits: { maxTotalBytes: 1000 },
    message: /"b": the files add up to more than 1000 bytes/,
  });
  // folders and symlinks have no bytes: they do not count
  const r = await unpacks(
    [
      { name: 'd/', type: '5' },
      { name: 'a', data: Buffer.alloc(1000) },
      { name: 'l', type: '2', linkname: 'a' },
    ],
    { maxTotalBytes: 1000 },
  );
  assert.deepEqual(r, { entries: 3, bytes: 1000, tree: ['a', 'd', 'l'] });
});

test('maxPathLength counts bytes: a path of exactly the limit unpacks, one byte more (or a wide character) is refused', async () => {
  const limits = { maxPathLength: 100 };
  assert.deepEqual((await unpacks([{ name: 'x'.repeat(100), data: '' }], limits)).tree, ['x'.repeat(100)]);
  await assertRefused(
    rawTar([{ name: 'long', pax: { path: 'x'.repeat(101) }, data: '' }]),
    'ARCHIVE_PATH_TOO_LONG',
    {
      limits,
      message: /its path is longer than 100 bytes/,
    },
  );
  // 60 characters, 120 bytes in UTF-8
  await assertRefused(
    rawTar([{ name: 'long', pax: { path: 'é'.repeat(60) }, data: '' }]),
    'ARCHIVE_PATH_TOO_LONG',
    {
      limits,
    },
  );
});

test('maxPathLength applies to symlink targets too, in bytes', async () => {
  const limits = { maxPathLength: 100 };
  const target = 'x'.repeat(100);
  assert.deepEqual((await unpacks([{ name: 'l', type: '2', linkname: target }], limits)).tree, ['l']);
  await assertRefused(
    rawTar([{ name: 'l', type: '2', pax: { linkpath: 'x'.repeat(101) } }]),
    'ARCHIVE_PATH_TOO_LONG',
    {
      limits,
      message: /"l": its symlink target is longer than 100 bytes/,
    },
  );
  await assertRefused(
    rawTar([{ name: 'l', type: '2', pax: { linkpath: 'é'.repeat(60) } }]),
    'ARCHIVE_PATH_TOO_LONG',
    {
      limits,
    },
  );
});

test('an entry under a file (not a folder) is refused, naming the parent', async () => {
  await assertRefused(
    rawTar([
      { name: 'f', data: 'x' },
      { name: 'f/g', data: 'y' },
    ]),
    'ARCHIVE_BAD_PATH',
    { message: /"f\/g": its parent "f" is a file/ },
  );
});

test('a symlink target holding NUL is refused', async () => {
  await assertRefused(rawTar([{ name: 'l', type: '2', pax: { linkpath: 'a\0b' } }]), 'ARCHIVE_BAD_PATH', {
    message: /its symlink target is empty or contains NUL/,
  });
});

test('a hostile name is cut to 200 characters in the message', async () => {
  const name = `${'a'.repeat(250)}/../x`;
  await assertRefused(rawTar([{ name: 'n', pax: { path: name }, data: '' }]), 'ARCHIVE_DOTDOT', {
    message: new RegExp(`^refused archive entry "${'a'.repeat(200)}\\.\\.\\.": `),
  });
});

test('files, folders and symlinks keep the times of the archive; small and streamed files their bytes', async () => {
  const root = await tempDir();
  try {
    const big = randomBytes(600 * 1024); // over the buffered size: streamed to disk
    const entries: RawEntry[] = [
      { name: 'bin/', type: '5' },
      { name: 'bin/tool', data: big, mode: 0o755 },
      { name: 'bin/deep/', type: '5' },
      { name: 'bin/deep/small.txt', data: 'small' },
      { name: 'link', type: '2', linkname: 'bin/tool' },
      { name: 'dirlink', type: '2', linkname: 'bin/deep' },
    ];
    const tar = rawTar(entries);
    await writeFile(join(root, 'a.tar'), tar);
    const staging = join(root, 'stage');
    const r = await unpackArchive(join(root, 'a.tar'), staging);
    assert.deepEqual(r, {
      entries: 6,
      bytes: big.length + 5,
      tar: { sha256: createHash('sha256').update(tar).digest('hex'), length: tar.length },
    });
    assert.deepEqual(await readFile(join(staging, 'bin/tool')), big);
    assert.equal(await readFile(join(staging, 'bin/deep/small.txt'), 'utf8'), 'small');
    assert.equal((await stat(join(staging, 'bin/tool'))).mode & 0o777, 0o755);
    assert.equal((await stat(join(staging, 'bin/deep/small.txt'))).mode & 0o777, 0o644);
    for (const p of ['bin', 'bin/deep', 'bin/tool', 'bin/deep/small.txt', 'link', 'dirlink']) {
      assert.equal((await lstat(join(staging, p))).mtimeMs, MTIME_MS, `${p} keeps its mtime`);
    }
    assert.equal(await readlink(join(staging, 'dirlink')), 'bin/deep');
    assert.equal(await readFile(join(staging, 'dirlink', 'small.txt'), 'utf8'), 'small');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('onProgress counts the tar bytes up to the signed total, for plain and gzip archives', async () => {
  const root = await tempDir();
  try {
    const tar = rawTar([{ name: 'f', data: randomBytes(700 * 1024) }]);
    const signed = { sha256: createHash('sha256').update(tar).digest('hex'), length: tar.length };
    await writeFile(join(root, 'a.tar'), tar);
    await writeFile(join(root, 'a.tar.gz'), gz(tar));
    for (const name of ['a.tar', 'a.tar.gz']) {
      const calls: [number, number | undefined][] = [];
      await unpackArchive(join(root, name), join(root, `stage-${name}`), {
        expectedTar: signed,
        onProgress: (done, total) => calls.push([done, total]),
      });
      assert.ok(calls.length > 1, `${name}: more than one progress call`);
      assert.deepEqual(calls.at(-1), [tar.length, tar.length], name);
      for (let i = 1; i < calls.length; i++) assert.ok(calls[i]![0] > calls[i - 1]![0], `${name}: grows`);
      const unsigned: (number | undefined)[] = [];
      await unpackArchive(join(root, name), join(root, `free-${name}`), {
        onProgress: (done, total) => unsigned.push(done, total),
      });
      assert.deepEqual(unsigned.slice(-2), [tar.length, undefined], `${name}: no total without a signed one`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('expectedTar: a plain tar longer than signed is refused as it is read; a shorter one after', async () => {
  const root = await tempDir();
  try {
    const tar = rawTar([{ name: 'f', data: randomBytes(600 * 1024) }]);
    const sha256 = createHash('sha256').update(tar).digest('hex');
    await writeFile(join(root, 'a.tar'), tar);
    await assert.rejects(
      unpackArchive(join(root, 'a.tar'), join(root, 's1'), {
        expectedTar: { sha256, length: tar.length - 1 },
      }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'TAR_DIGEST_MISMATCH');
        assert.equal(
          e.message,
          `${join(root, 'a.tar')} holds a tar with more than the signed ${tar.length - 1} bytes: the archive is corrupt or tampered with; nothing was installed, download it again`,
        );
        return true;
      },
    );
    await assert.rejects(
      unpackArchive(join(root, 'a.tar'), join(root, 's2'), {
        expectedTar: { sha256, length: tar.length + 1 },
      }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'TAR_DIGEST_MISMATCH');
        assert.match(e.message, new RegExp(`sha256 ${sha256} \\(${tar.length} bytes\\), not the signed`));
        return true;
      },
    );
    assert.deepEqual(await listTree(root), ['a.tar'], 'both staging folders are removed');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('staging: parents are created; a file in its place is refused and left alone', async () => {
  const root = await tempDir();
  try {
    await writeFile(join(root, 'a.tar'), rawTar([{ name: 'f', data: 'x' }]));
    await unpackArchive(join(root, 'a.tar'), join(root, 'new', 'parents', 'stage'));
    assert.equal(await readFile(join(root, 'new', 'parents', 'stage', 'f'), 'utf8'), 'x');
    await writeFile(join(root, 'taken'), 'mine');
    await assert.rejects(
      unpackArchive(join(root, 'a.tar'), join(root, 'taken')),
      (e: Error & { code?: string }) => {
        assert.equal(e.name, 'UsageError');
        assert.equal(e.code, 'STAGING_NOT_EMPTY');
        assert.match(e.message, /exists and is not a folder: give a new path/);
        return true;
      },
    );
    assert.equal(await readFile(join(root, 'taken'), 'utf8'), 'mine');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('an archive that is not gzip nor tar is refused; a one-byte file is not taken for gzip', async () => {
  const root = await tempDir();
  try {
    await writeFile(join(root, 'one'), Buffer.from([0x1f]));
    await assert.rejects(unpackArchive(join(root, 'one'), join(root, 'stage')), { name: 'DataError' });
    await writeFile(join(root, 'bad.gz'), Buffer.concat([Buffer.from([0x1f, 0x8b]), randomBytes(100)]));
    await assert.rejects(
      unpackArchive(join(root, 'bad.gz'), join(root, 'stage')),
      (e: Error & { code?: string }) => {
        assert.equal(e.name, 'DataError');
        assert.equal(e.code, 'ARCHIVE_CORRUPT');
        assert.match(e.message, /bad\.gz is not valid gzip data \(.+\): download it again/);
        return true;
      },
    );
    assert.deepEqual(await listTree(root), ['bad.gz', 'one']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a name of exactly 200 characters is shown whole in the message', async () => {
  const name = `${'a'.repeat(196)}/../`;
  assert.equal(name.length, 200);
  await assertRefused(rawTar([{ name: 'n', pax: { path: name }, data: '' }]), 'ARCHIVE_DOTDOT', {
    message: new RegExp(`^refused archive entry "${'a'.repeat(196)}/\\.\\./": `),
  });
});

test('refusals say why: an unknown tar type, a duplicate, a missing folder', async () => {
  await assertRefused(rawTar([{ name: 'x', type: 'K', data: '' }]), 'ARCHIVE_UNSUPPORTED_ENTRY', {
    message: /"x": its tar type "K" is not one notsotuf writes/,
  });
  await assertRefused(
    rawTar([
      { name: 'f', data: 'x' },
      { name: 'f', data: 'y' },
    ]),
    'ARCHIVE_DUPLICATE_ENTRY',
    { message: /"f": it appears twice in the archive/ },
  );
  await assertRefused(rawTar([{ name: 'd/f', data: 'x' }]), 'ARCHIVE_MISSING_PARENT', {
    message: /"d\/f": its folder "d" is not an earlier entry/,
  });
});

test('a plain tar whose second byte is the gzip marker is still read as a plain tar', async () => {
  // "ċ" is C4 8B in UTF-8: the first name starts with the second byte of the gzip magic.
  const { tree } = await unpacks([
    { name: 'ċ.txt', data: 'x' },
    { name: 'b.txt', data: 'y' },
  ]);
  assert.deepEqual(tree, ['b.txt', 'ċ.txt']);
});

test('a small file that spans two reads of the archive keeps its bytes', async () => {
  const root = await tempDir();
  try {
    // 100 KiB, then 200 KiB: the second file crosses the first 256 KiB read.
    const a = randomBytes(100 * 1024);
    const b = randomBytes(200 * 1024);
    for (const name of ['t.tar', 't.tar.gz']) {
      const tar = rawTar([
        { name: 'a', data: a },
        { name: 'b', data: b },
      ]);
      await writeFile(join(root, name), name.endsWith('.gz') ? gz(tar) : tar);
      await unpackArchive(join(root, name), join(root, `stage-${name}`));
      assert.deepEqual(await readFile(join(root, `stage-${name}`, 'a')), a, name);
      assert.deepEqual(await readFile(join(root, `stage-${name}`, 'b')), b, name);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('staging messages: a folder that is not empty, one that cannot be created (with the cause)', async () => {
  const root = await tempDir();
  try {
    await writeFile(join(root, 'a.tar'), rawTar([{ name: 'f', data: 'x' }]));
    await mkdir(join(root, 'full'));
    await writeFile(join(root, 'full', 'keep'), '');
    await assert.rejects(unpackArchive(join(root, 'a.tar'), join(root, 'full')), {
      code: 'STAGING_NOT_EMPTY',
      message: `staging folder "${join(root, 'full')}" is not empty: give a new or empty folder`,
    });
    // a parent that is a dangling symlink: the staging folder looks absent but cannot be made
    await symlink(join(root, 'nowhere'), join(root, 'parent'));
    const staging = join(root, 'parent', 'stage');
    await assert.rejects(unpackArchive(join(root, 'a.tar'), staging), (e: Error & { code?: string }) => {
      assert.equal(e.name, 'InstallError');
      assert.equal(e.code, 'STAGING_FAILED');
      assert.match(e.message, new RegExp(`^cannot create staging folder "${staging}": .*ENOENT`));
      assert.equal((e.cause as NodeJS.ErrnoException | undefined)?.code, 'ENOENT');
      return true;
    });
    await assert.rejects(lstat(join(root, 'nowhere')), { code: 'ENOENT' }, 'nothing made through the link');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('errors keep their cause: a missing archive, bad gzip', async () => {
  const root = await tempDir();
  try {
    await assert.rejects(
      unpackArchive(join(root, 'nope.tar'), join(root, 's')),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ARCHIVE_NOT_FOUND');
        assert.equal(e.message, `archive ${join(root, 'nope.tar')} does not exist`);
        assert.equal((e.cause as NodeJS.ErrnoException | undefined)?.code, 'ENOENT');
        return true;
      },
    );
    await writeFile(join(root, 'bad.gz'), Buffer.concat([Buffer.from([0x1f, 0x8b]), randomBytes(100)]));
    await assert.rejects(
      unpackArchive(join(root, 'bad.gz'), join(root, 's')),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ARCHIVE_CORRUPT');
        assert.match(String((e.cause as NodeJS.ErrnoException | undefined)?.code), /^Z_/);
        return true;
      },
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a file missing under staging mid-unpack is an install failure with its cause, not "archive does not exist"', async () => {
  const root = await tempDir();
  try {
    await writeFile(
      join(root, 'a.tar'),
      rawTar([
        { name: 'd/', type: '5' },
        { name: 'd/f', data: 'x' },
      ]),
    );
    const staging = join(root, 'stage');
    let removed = false;
    await assert.rejects(
      unpackArchive(join(root, 'a.tar'), staging, {
        onProgress: () => {
          if (removed) return;
          removed = true;
          // Another process empties the staging folder before the first entry is written.
          rmSync(staging, { recursive: true });
        },
      }),
      (e: Error & { code?: string }) => {
        assert.equal(e.name, 'InstallError', e.message);
        assert.equal(e.code, 'UNPACK_FAILED');
        assert.match(
          e.message,
          new RegExp(
            `^could not unpack ${join(root, 'a.tar')}: .*ENOENT.* \\(check free space and permissions\\)$`,
          ),
        );
        const cause = e.cause as NodeJS.ErrnoException | undefined;
        assert.equal(cause?.code, 'ENOENT');
        assert.ok(cause?.path?.startsWith(`${staging}/`), `the cause is the entry's write: ${cause?.path}`);
        return true;
      },
    );
    assert.ok(removed);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('no file descriptor stays open after an unpack, whether it succeeds or fails (Linux: /proc/self/fd)', async (t) => {
  if (!existsSync('/proc/self/fd')) {
    t.skip('no /proc/self/fd on this platform');
    return;
  }
  const root = await tempDir();
  try {
    const entries: RawEntry[] = Array.from({ length: 40 }, (_, i) => ({ name: `f${i}`, data: `file ${i}` }));
    entries.push({ name: 'big', data: randomBytes(600 * 1024) });
    const tar = rawTar(entries);
    await writeFile(join(root, 'a.tar'), tar);
    await writeFile(join(root, 'a.tar.gz'), gz(tar));
    await writeFile(join(root, 'bad.tar'), rawTar([...entries, { name: '../x', data: '' }]));
    const open = (): number => readdirSync('/proc/self/fd').length;
    const before = open();
    await unpackArchive(join(root, 'a.tar'), join(root, 's1'));
    await unpackArchive(join(root, 'a.tar.gz'), join(root, 's2'));
    await assert.rejects(unpackArchive(join(root, 'bad.tar'), join(root, 's3')), { code: 'ARCHIVE_DOTDOT' });
    assert.equal(open(), before);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('when unpackArchive resolves, every file is complete on disk (nothing still being written)', async () => {
  const root = await tempDir();
  try {
    const entries: RawEntry[] = Array.from({ length: 64 }, (_, i) => ({
      name: `f${i}`,
      data: randomBytes(16 * 1024),
    }));
    await writeFile(join(root, 'a.tar'), rawTar(entries));
    const staging = join(root, 'stage');
    await unpackArchive(join(root, 'a.tar'), staging);
    // Synchronously, before anything else can run: the installer renames staging right away.
    for (const e of entries) assert.equal(statSync(join(staging, e.name)).size, 16 * 1024, e.name);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a plain tar whose first byte is the gzip marker, or a file with a stray long link name, is read as it is', async () => {
  // A first name starting with U+001F (the first gzip magic byte) is a name like any other.
  assert.deepEqual((await unpacks([{ name: '\u001fx', data: 'x' }])).tree, ['\u001fx']);
  // The link target of an entry that is not a link is ignored, however long.
  const r = await unpacks([{ name: 'f', data: 'x', pax: { linkpath: 'y'.repeat(200) } }], {
    maxPathLength: 100,
  });
  assert.deepEqual(r.tree, ['f']);
});

test('an archive path that cannot be opened (a symlink loop) is not reported as missing', async () => {
  const root = await tempDir();
  try {
    await symlink(join(root, 'loop'), join(root, 'loop'));
    await assert.rejects(
      unpackArchive(join(root, 'loop'), join(root, 'stage')),
      (e: Error & { code?: string }) => {
        assert.equal(e.name, 'InstallError', e.message);
        assert.equal(e.code, 'UNPACK_FAILED');
        assert.match(e.message, /ELOOP/);
        return true;
      },
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
