import { test } from 'node:test';
import { assertRefused, rawTar } from '../archive/tar-builder.js';

test('refuses a character device entry', async () => {
  await assertRefused(rawTar([{ name: 'null', type: '3' }]), 'ARCHIVE_SPECIAL_FILE', {
    message: /device file/,
  });
});

test('refuses a block device entry', async () => {
  await assertRefused(rawTar([{ name: 'sda', type: '4' }]), 'ARCHIVE_SPECIAL_FILE');
});

test('refuses a FIFO entry', async () => {
  await assertRefused(rawTar([{ name: 'pipe', type: '6' }]), 'ARCHIVE_SPECIAL_FILE', { message: /FIFO/ });
});

test('refuses tar types notsotuf never writes (GNU long names, contiguous files, global pax)', async () => {
  for (const type of ['L', 'K', '7', 'g', 'V']) {
    await assertRefused(rawTar([{ name: 'odd', type, data: 'x' }]), 'ARCHIVE_UNSUPPORTED_ENTRY');
  }
});
