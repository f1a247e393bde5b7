import { test } from 'node:test';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { assertRefused, rawTar } from '../archive/tar-builder.js';

const outside = async (root: string): Promise<void> => {
  await mkdir(join(root, 'outside'));
};

test('refuses a symlink whose relative target leaves the staging folder', async () => {
  await assertRefused(
    rawTar([{ name: 'escape', type: '2', linkname: '../outside' }]),
    'ARCHIVE_SYMLINK_ESCAPE',
    {
      prepare: outside,
      message: /leaves the folder/,
    },
  );
});

test('refuses a symlink to an absolute path', async () => {
  await assertRefused(
    rawTar([{ name: 'passwd', type: '2', linkname: '/etc/passwd' }]),
    'ARCHIVE_SYMLINK_ESCAPE',
    {
      message: /absolute/,
    },
  );
  await assertRefused(
    rawTar([{ name: 'sys', type: '2', linkname: 'C:\\Windows' }]),
    'ARCHIVE_SYMLINK_ESCAPE',
  );
});

test('refuses a deep symlink that climbs above the root', async () => {
  await assertRefused(
    rawTar([
      { name: 'a/', type: '5' },
      { name: 'a/b/', type: '5' },
      { name: 'a/b/up', type: '2', linkname: '../../../outside' },
    ]),
    'ARCHIVE_SYMLINK_ESCAPE',
    { prepare: outside },
  );
});

test('refuses a symlink that stays inside lexically but escapes through another symlink (x -> ., y -> x/..)', async () => {
  // lexically "x/.." is ".", but the OS resolves x first: "./.." is the parent of the staging folder
  await assertRefused(
    rawTar([
      { name: 'x', type: '2', linkname: '.' },
      { name: 'y', type: '2', linkname: 'x/..' },
    ]),
    'ARCHIVE_SYMLINK_ESCAPE',
    { prepare: outside },
  );
});

test('refuses a symlink whose target is a symlink defined later in the archive that leaves', async () => {
  // symlinks are checked against the whole tree, not only what came before
  await assertRefused(
    rawTar([
      { name: 'a', type: '2', linkname: 'z/pwned' },
      { name: 'z', type: '2', linkname: '../outside' },
    ]),
    'ARCHIVE_SYMLINK_ESCAPE',
    { prepare: outside },
  );
});

test('refuses symlink loops', async () => {
  await assertRefused(
    rawTar([
      { name: 'a', type: '2', linkname: 'b/x' },
      { name: 'b', type: '2', linkname: 'a/x' },
    ]),
    'ARCHIVE_SYMLINK_ESCAPE',
    { message: /loops/ },
  );
});
