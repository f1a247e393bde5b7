import { test } from 'node:test';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { assertRefused, rawTar } from '../archive/tar-builder.js';

test('refuses a file written through a symlink that points outside (link -> ../outside, link/pwned)', async () => {
  await assertRefused(
    rawTar([
      { name: 'link', type: '2', linkname: '../outside' },
      { name: 'link/pwned', data: 'evil' },
    ]),
    'ARCHIVE_WRITE_THROUGH_SYMLINK',
    {
      prepare: async (root) => {
        await mkdir(join(root, 'outside'));
      },
      message: /parent "link" is a symlink/,
    },
  );
});

test('refuses writing through a symlink even when it points inside', async () => {
  await assertRefused(
    rawTar([
      { name: 'real/', type: '5' },
      { name: 'link', type: '2', linkname: 'real' },
      { name: 'link/file', data: 'x' },
    ]),
    'ARCHIVE_WRITE_THROUGH_SYMLINK',
  );
});

test('refuses a folder entry under a symlink, gzip-compressed', async () => {
  await assertRefused(
    rawTar([
      { name: 'link', type: '2', linkname: '/tmp' },
      { name: 'link/sub/', type: '5' },
    ]),
    'ARCHIVE_WRITE_THROUGH_SYMLINK',
    { gzip: true },
  );
});

test('refuses entries whose parent folder is missing (no implicit mkdir -p)', async () => {
  await assertRefused(rawTar([{ name: 'nowhere/file', data: 'x' }]), 'ARCHIVE_MISSING_PARENT');
});
