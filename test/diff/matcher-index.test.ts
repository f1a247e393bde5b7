import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkBitsFor, indexOld, matchArchives, type MatchSink } from '../../src/diff/matcher.js';
import { MatchRecorder } from '../../src/diff/ref-choice.js';
import { prng } from './helpers.js';

/** A sink that keeps every run as the matcher hands it over. */
function collector(): MatchSink & { runs: [number, number, number][] } {
  const runs: [number, number, number][] = [];
  return {
    runs,
    pressure: false,
    aligned: (start, length, oldStart) => void runs.push([start, length, oldStart]),
    insert: (start, length) => void runs.push([start, length, -1]),
    flush: async () => {},
  };
}

test('the check takes the bits the sample numbers leave free in a 32-bit slot, at most 8', () => {
  assert.equal(checkBitsFor(0), 8);
  assert.equal(checkBitsFor(2 ** 24 - 1), 8);
  assert.equal(checkBitsFor(2 ** 24), 7);
  assert.equal(checkBitsFor(2 ** 25 - 1), 7);
  assert.equal(checkBitsFor(2 ** 25), 6);
  assert.equal(checkBitsFor(2 ** 32 - 1), 0);
});

test('each slot holds its sample number above the low bits of its hash', () => {
  const old = prng(11)(1 << 16);
  const index = indexOld(old, 8);
  assert.equal(index.checkBits, 8);
  const samples = new Set<number>();
  for (const slot of index.table) {
    if (slot === 0) continue;
    const q = (slot >>> index.checkBits) - 1;
    assert.ok(q >= 0 && q * 8 + 16 <= old.length, `sample ${q} inside the archive`);
    assert.ok(!samples.has(q), `sample ${q} indexed once`);
    samples.add(q);
  }
  // As many slots as samples, two per bucket: most samples find room (73 % here).
  assert.ok(samples.size > 0.6 * Math.floor((old.length - 16) / 8), `${samples.size} samples indexed`);
});

test('an archive with more than 2^24 samples matches with 7 check bits', { timeout: 600_000 }, async () => {
  // Step 1 over 16 MiB + 64 KiB: 2^24 + 65521 samples, so each slot has 7 bits of check.
  const old = prng(12)((1 << 24) + (1 << 16));
  const index = indexOld(old, 1);
  assert.equal(index.checkBits, 7);
  // New: a piece from near the end of old, 4 KiB of fresh bytes, a piece from the start.
  const fresh = prng(13)(4096);
  const nu = Buffer.concat([old.subarray(16_000_000, 16_100_000), fresh, old.subarray(1000, 51_000)]);
  const sink = collector();
  await matchArchives(old, nu, [], sink, { step: 1 });
  assert.deepEqual(sink.runs, [
    [0, 100_000, 16_000_000],
    [100_000, 4096, -1],
    [104_096, 50_000, 1000],
  ]);
});

test('the recorder replays the runs it was given, in order', async () => {
  const rec = new MatchRecorder();
  const given: [number, number, number][] = [];
  let at = 0;
  // More runs than one chunk holds (2^16), inserts and aligned runs mixed.
  for (let k = 0; k < 70_000; k++) {
    const length = 1 + (k % 97);
    if (k % 5 === 0) {
      rec.insert(at, length);
      given.push([at, length, -1]);
    } else {
      const oldStart = 2 ** 32 - 1 - k * 13; // old starts up to the largest 32-bit one
      rec.aligned(at, length, oldStart);
      given.push([at, length, oldStart]);
    }
    at += length;
  }
  rec.aligned(at, 0, 5); // empty runs are not recorded
  assert.equal(rec.count, given.length);
  const seen: [number, number, number][] = [];
  rec.forEach((start, length, oldStart) => void seen.push([start, length, oldStart]));
  assert.deepEqual(seen, given);
  const sink = collector();
  await rec.replay(sink);
  assert.deepEqual(sink.runs, given);
});

test('the recorder refuses runs that do not follow each other', () => {
  const rec = new MatchRecorder();
  rec.aligned(0, 10, 100);
  assert.throws(() => rec.insert(11, 5), /out of order at 11 \(expected 10\)/);
});
