import { test } from 'node:test';
import { assertRefused, rawTar } from '../archive/tar-builder.js';

test('refuses an archive with more entries than maxEntries', async () => {
  const entries = Array.from({ length: 11 }, (_, i) => ({ name: `f${i}`, data: 'x' }));
  await assertRefused(rawTar(entries), 'ARCHIVE_TOO_MANY_ENTRIES', { limits: { maxEntries: 10 } });
});

test('refuses a file over maxEntryBytes before writing it (a 16 MiB gzip bomb of zeros)', async () => {
  const zeros = Buffer.alloc(16 * 1024 * 1024);
  await assertRefused(rawTar([{ name: 'bomb', data: zeros }]), 'ARCHIVE_ENTRY_TOO_LARGE', {
    gzip: true,
    limits: { maxEntryBytes: 1024 * 1024 },
  });
});

test('refuses a header that claims more than the default per-file limit (5 GiB through pax size)', async () => {
  await assertRefused(
    rawTar([{ name: 'huge', pax: { size: String(5 * 1024 ** 3) }, data: 'x', size: 0 }]),
    'ARCHIVE_ENTRY_TOO_LARGE',
  );
});

test('refuses files that add up to more than maxTotalBytes', async () => {
  const entries = Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, data: Buffer.alloc(1000) }));
  await assertRefused(rawTar(entries), 'ARCHIVE_TOO_LARGE', { limits: { maxTotalBytes: 4500 } });
});

test('refuses paths longer than maxPathLength', async () => {
  await assertRefused(
    rawTar([{ name: 'long', pax: { path: 'x'.repeat(300) }, data: '' }]),
    'ARCHIVE_PATH_TOO_LONG',
    {
      limits: { maxPathLength: 255 },
    },
  );
});

test('refuses a pax header larger than 64 KiB', async () => {
  await assertRefused(
    rawTar([{ name: 'p', pax: { comment: 'x'.repeat(70 * 1024) }, data: '' }]),
    'ARCHIVE_CORRUPT',
    {
      message: /pax header is larger/,
    },
  );
});

test('refuses data appended after the end-of-archive blocks', async () => {
  const tar = Buffer.concat([rawTar([{ name: 'a', data: 'x' }]), Buffer.from('hidden payload')]);
  await assertRefused(tar, 'ARCHIVE_CORRUPT', { message: /after the end/, gzip: true });
});
