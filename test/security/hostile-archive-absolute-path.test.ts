import { test } from 'node:test';
import { join } from 'node:path';
import { assertRefused, rawTar } from '../archive/tar-builder.js';

test('refuses an entry with an absolute path pointing outside the staging folder', async () => {
  await assertRefused(
    (root) => rawTar([{ name: join(root, 'pwned'), data: 'evil' }]),
    'ARCHIVE_ABSOLUTE_PATH',
    {
      message: /pwned.*relative/,
    },
  );
});

test('refuses an absolute path hidden in a pax path record behind an innocent ustar name', async () => {
  await assertRefused(
    (root) => rawTar([{ name: 'innocent', pax: { path: join(root, 'pwned') }, data: 'evil' }]),
    'ARCHIVE_ABSOLUTE_PATH',
  );
});

test('refuses an absolute path built from the ustar prefix field', async () => {
  await assertRefused(
    (root) => rawTar([{ name: 'pwned', prefix: root, data: 'evil' }]),
    'ARCHIVE_ABSOLUTE_PATH',
    {
      gzip: true,
    },
  );
});

test('refuses Windows drive-letter paths on every platform', async () => {
  await assertRefused(rawTar([{ name: 'C:/Windows/evil.dll', data: 'evil' }]), 'ARCHIVE_ABSOLUTE_PATH', {
    message: /drive letter/,
  });
  await assertRefused(rawTar([{ name: 'c:evil.dll', data: 'evil' }]), 'ARCHIVE_ABSOLUTE_PATH');
});

test('refuses backslash paths that Windows would read as separators or UNC roots', async () => {
  await assertRefused(rawTar([{ name: '\\\\server\\share\\evil', data: 'evil' }]), 'ARCHIVE_BAD_PATH', {
    message: /must not contain "\\"/,
  });
});

test('error messages escape control characters in hostile names (no terminal escape injection)', async () => {
  await assertRefused(
    rawTar([{ name: '/\u001b[2J\u001b]0;owned\u0007', data: 'x' }]),
    'ARCHIVE_ABSOLUTE_PATH',
    {
      message: /"\/\\u001b\[2J\\u001b\]0;owned\\u0007"/,
    },
  );
});
