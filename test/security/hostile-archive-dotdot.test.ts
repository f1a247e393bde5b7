import { test } from 'node:test';
import { assertRefused, rawTar } from '../archive/tar-builder.js';

test('refuses a "../" entry that would land beside the staging folder', async () => {
  await assertRefused(rawTar([{ name: '../pwned', data: 'evil' }]), 'ARCHIVE_DOTDOT', { message: /"\.\."/ });
});

test('refuses ".." in the middle of a path after a real folder', async () => {
  await assertRefused(
    rawTar([
      { name: 'a/', type: '5' },
      { name: 'a/../../pwned', data: 'evil' },
    ]),
    'ARCHIVE_DOTDOT',
  );
});

test('refuses ".." hidden in a pax path record, gzip-compressed', async () => {
  await assertRefused(
    rawTar([{ name: 'innocent', pax: { path: '../../pwned' }, data: 'evil' }]),
    'ARCHIVE_DOTDOT',
    {
      gzip: true,
    },
  );
});

test('refuses a directory entry named ".."', async () => {
  await assertRefused(rawTar([{ name: '../', type: '5' }]), 'ARCHIVE_DOTDOT');
});

test('refuses "..\\" which walks out on Windows', async () => {
  await assertRefused(rawTar([{ name: '..\\pwned', data: 'evil' }]), 'ARCHIVE_BAD_PATH');
});

test('refuses "." and empty segments (a/./b, a//b) that alias other paths', async () => {
  await assertRefused(
    rawTar([
      { name: 'a/', type: '5' },
      { name: 'a/./b', data: 'x' },
    ]),
    'ARCHIVE_BAD_PATH',
  );
  await assertRefused(
    rawTar([
      { name: 'a/', type: '5' },
      { name: 'a//b', data: 'x' },
    ]),
    'ARCHIVE_BAD_PATH',
  );
});
