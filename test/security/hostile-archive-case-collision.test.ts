import { test } from 'node:test';
import { assertRefused, rawTar } from '../archive/tar-builder.js';

test('refuses two files whose names differ only in case (README, readme)', async () => {
  await assertRefused(
    rawTar([
      { name: 'README', data: 'a' },
      { name: 'readme', data: 'b' },
    ]),
    'ARCHIVE_CASE_COLLISION',
    { message: /only in case/ },
  );
});

test('refuses a folder and a file that collide on case-insensitive systems', async () => {
  await assertRefused(
    rawTar([
      { name: 'Lib/', type: '5' },
      { name: 'lib', type: '2', linkname: '/etc' },
    ]),
    'ARCHIVE_CASE_COLLISION',
  );
});

test('refuses names that differ only in Unicode normalisation (NFC vs NFD), as macOS merges them', async () => {
  await assertRefused(
    rawTar([
      { name: 'caf\u00e9', data: 'nfc' },
      { name: 'cafe\u0301', data: 'nfd' },
    ]),
    'ARCHIVE_CASE_COLLISION',
  );
});

test('refuses a duplicate entry that would overwrite an earlier file', async () => {
  await assertRefused(
    rawTar([
      { name: 'app.bin', data: 'good' },
      { name: 'app.bin', data: 'evil' },
    ]),
    'ARCHIVE_DUPLICATE_ENTRY',
  );
});

test('refuses names that differ only by trailing dots or spaces, which Windows strips ("lib." is "lib")', async () => {
  await assertRefused(
    rawTar([
      { name: 'lib/', type: '5' },
      { name: 'lib.', type: '2', linkname: '/etc' },
    ]),
    'ARCHIVE_CASE_COLLISION',
  );
});
