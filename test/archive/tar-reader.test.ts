import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { readTar } from '../../src/archive/tar-reader.js';
import { rawTar } from './tar-builder.js';

const TAR = rawTar([
  { name: 'dir/', type: '5' },
  { name: 'dir/a', data: Buffer.alloc(1000, 1), mode: 0o755 },
  { name: 'dir/empty', data: '' },
  { name: 'long', pax: { path: `dir/${'é'.repeat(80)}`, mtime: '1700000000.5' }, data: 'pax' },
  { name: 'link', type: '2', linkname: 'x', pax: { linkpath: `dir/${'y'.repeat(150)}` } },
  { name: 'dir/exact', data: Buffer.alloc(512, 2) },
]);

function* chunks(buf: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function read(buf: Buffer, size: number, skipData = false): Promise<string[]> {
  const out: string[] = [];
  for await (const { entry, data } of readTar(Readable.from(chunks(buf, size)))) {
    let digest = '-';
    if (!skipData) {
      const h = createHash('sha256');
      for await (const c of data()) h.update(c);
      digest = h.digest('hex').slice(0, 12);
    }
    out.push(
      `${entry.type} ${entry.path} ${entry.linkTarget} ${entry.mode.toString(8)} ${entry.size} ${entry.mtime} ${digest}`,
    );
  }
  return out;
}

test('reads the same entries whatever the chunk boundaries (1, 7, 511, 513 bytes, whole)', async () => {
  const whole = await read(TAR, TAR.length);
  assert.equal(whole.length, 6);
  assert.match(whole[3] ?? '', /^file dir\/é{80} {2}644 3 1700000000 /);
  assert.match(whole[4] ?? '', new RegExp(`^symlink link dir/y{150} `));
  for (const size of [1, 7, 511, 513]) assert.deepEqual(await read(TAR, size), whole, `chunk size ${size}`);
});

test('skips the data of entries the caller does not read', async () => {
  const names = (await read(TAR, 100, true)).map((l) => l.split(' ')[1]);
  assert.deepEqual(names, ['dir', 'dir/a', 'dir/empty', `dir/${'é'.repeat(80)}`, 'link', 'dir/exact']);
});

test('clamps pax mtimes to what the format can hold (no negative or absurd times reach utimes)', async () => {
  const tar = rawTar([
    { name: 'old', pax: { mtime: '-5000000000' }, data: '' },
    { name: 'future', pax: { mtime: '9999999999999999' }, data: '' },
  ]);
  const lines = await read(tar, tar.length);
  assert.match(lines[0] ?? '', / 0 [0-9a-f]+$/);
  assert.match(lines[1] ?? '', / 8589934591 [0-9a-f]+$/);
});
