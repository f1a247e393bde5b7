import { test } from 'node:test';
import { assertRefused, rawTar } from '../archive/tar-builder.js';

test('refuses a hard link to a file outside the archive', async () => {
  await assertRefused(rawTar([{ name: 'passwd', type: '1', linkname: '/etc/passwd' }]), 'ARCHIVE_HARDLINK', {
    message: /hard link to "\/etc\/passwd"/,
  });
});

test('refuses a hard link even to a file inside the archive', async () => {
  await assertRefused(
    rawTar([
      { name: 'a', data: 'x' },
      { name: 'b', type: '1', linkname: 'a' },
    ]),
    'ARCHIVE_HARDLINK',
    { gzip: true },
  );
});
