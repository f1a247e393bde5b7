import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeHeader, encodeHeader } from '../../src/diff/format.js';
import { unzigzag, writeVarint, zigzag } from '../../src/diff/varint.js';

function readVarint(buf: Uint8Array): number {
  let v = 0;
  let scale = 1;
  for (const b of buf) {
    v += (b % 128) * scale;
    if (b < 128) break;
    scale *= 128;
  }
  return v;
}

test('varints and zigzag survive values past 2^31 and 2^32 (no 32-bit overflow)', () => {
  for (const v of [
    0,
    1,
    127,
    128,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32 + 5,
    3 * 2 ** 40 + 7,
    Number.MAX_SAFE_INTEGER,
  ]) {
    const buf = new Uint8Array(9);
    const end = writeVarint(buf, 0, v);
    assert.ok(end <= 8, `${v} took ${end} bytes`);
    assert.equal(readVarint(buf.subarray(0, end)), v);
  }
  for (const v of [0, -1, 1, -(2 ** 31), 2 ** 31, -(2 ** 33) - 3, 2 ** 45])
    assert.equal(unzigzag(zigzag(v)), v);
});

test('header lengths past 4 GB round-trip; lengths past 2^53 are refused', () => {
  const big = { sha256: 'ab'.repeat(32), length: 5 * 2 ** 32 + 3 };
  const streams = { control: 2 ** 33, diff: 2 ** 31 + 1, extra: 7 };
  const h = encodeHeader({
    source: big,
    result: big,
    compression: 1,
    compressed: streams,
    uncompressed: streams,
  });
  const d = decodeHeader(h);
  assert.deepEqual(d.source, big);
  assert.deepEqual(d.compressed, streams);
  h.writeBigUInt64BE(2n ** 60n, 16);
  assert.throws(() => decodeHeader(h), { name: 'DataError', code: 'PATCH_CORRUPT' });
});
