import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataError } from '../../src/errors.js';
import { applyPatch, createPatch, readPatchHeader } from '../../src/diff/index.js';
import { CHECKSUM_OFFSET, HEADER_LENGTH, MAGIC } from '../../src/diff/format.js';
import { zigzag } from '../../src/diff/varint.js';
import { digest, handMadePatch, prng, withTempDir } from './helpers.js';

const rand = prng(3);
const OLD = rand(20_000);
const NEW = Buffer.concat([OLD.subarray(0, 8000), rand(300), OLD.subarray(9000)]);
NEW[15_000] = NEW[15_000]! ^ 1;

/** Applies `patch` to `old` in a fresh folder; expects a DataError with `code` and no output left. */
async function expectRefused(
  patch: Buffer,
  code: string | RegExp,
  old: Buffer = OLD,
  options = {},
  message?: RegExp,
  cause?: RegExp,
): Promise<void> {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'old'), old);
    await writeFile(join(dir, 'patch'), patch);
    await assert.rejects(applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out'), options), (e) => {
      assert.ok(e instanceof DataError, `not a DataError: ${String(e)}`);
      if (typeof code === 'string') assert.equal(e.code, code, e.message);
      else assert.match(e.code, code, e.message);
      if (message !== undefined) assert.match(e.message, message);
      if (cause !== undefined) assert.match(String((e.cause as Error | undefined)?.message), cause);
      return true;
    });
    assert.deepEqual((await readdir(dir)).sort(), ['old', 'patch'], 'output or .partial left behind');
  });
}

async function makePatch(a: Buffer, b: Buffer): Promise<Buffer> {
  return withTempDir(async (dir) => {
    await writeFile(join(dir, 'a'), a);
    await writeFile(join(dir, 'b'), b);
    await createPatch(join(dir, 'a'), join(dir, 'b'), join(dir, 'p'));
    return readFile(join(dir, 'p'));
  });
}

const PATCH = await makePatch(OLD, NEW);

test('a patch truncated at any point is refused with no output', async () => {
  for (let cut = 0; cut < PATCH.length; cut++) {
    await expectRefused(PATCH.subarray(0, cut), /^PATCH_(TRUNCATED|NOT_A_PATCH)$/);
  }
});

test('a patch with trailing bytes is refused', async () => {
  await expectRefused(Buffer.concat([PATCH, Buffer.from([0])]), 'PATCH_CORRUPT');
});

test('a flipped bit anywhere in the patch is refused with no output, by the check that owns that byte', async () => {
  for (let i = 0; i < PATCH.length; i++) {
    const bad = Buffer.from(PATCH);
    bad[i] = bad[i]! ^ (1 << (i % 8));
    if (i < MAGIC.length) {
      // The magic names the format: another one is not a notsotuf patch of this format.
      await expectRefused(bad, /^PATCH_(NOT_A_PATCH|UNSUPPORTED_FORMAT)$/);
    } else if (i < CHECKSUM_OFFSET) {
      // Header fields: out of their bounds, lengths the file does not have, or else caught by the
      // checksum that covers them.
      await expectRefused(bad, /^PATCH_(CORRUPT|TRUNCATED)$/);
    } else {
      // The checksum field and every byte of the streams: only the checksum can catch a flip
      // here before any output (a flip in a stream might still decompress to something).
      await expectRefused(bad, 'PATCH_CORRUPT', OLD, {}, /checksum does not match its content/);
    }
  }
});

test('the wrong source archive is refused before anything is written', async () => {
  const other = Buffer.from(OLD);
  other[100] = other[100]! ^ 0xff;
  await expectRefused(PATCH, 'PATCH_WRONG_SOURCE', other);
  await expectRefused(PATCH, 'PATCH_WRONG_SOURCE', OLD.subarray(1));
});

test('a patch whose header disagrees with the signed digests is refused', async () => {
  await expectRefused(PATCH, 'PATCH_METADATA_MISMATCH', OLD, { expectedSource: digest(NEW) });
  await expectRefused(PATCH, 'PATCH_METADATA_MISMATCH', OLD, { expectedResult: digest(OLD) });
  await expectRefused(PATCH, 'PATCH_METADATA_MISMATCH', OLD, {
    expectedResult: { ...digest(NEW), length: NEW.length + 1 },
  });
});

test('not a patch at all, or a newer format, is refused by name', async () => {
  await expectRefused(
    Buffer.from('hello, this is not a patch at all, just text of some length'.repeat(5)),
    'PATCH_NOT_A_PATCH',
  );
  const newer = Buffer.from(PATCH);
  newer.write('notsotuf-diff-3\n', 0, 'latin1');
  await expectRefused(newer, 'PATCH_UNSUPPORTED_FORMAT');
});

// Hand-made patches with a valid checksum: a writer that knows the format cannot make the reader
// go out of bounds or produce a result it did not promise.
test('hostile patch: copy past the end of the old archive', async () => {
  const result = OLD.subarray(0, 100);
  await expectRefused(
    handMadePatch({
      source: OLD,
      result,
      ops: [
        [3, zigzag(OLD.length - 10)],
        [0, 100],
      ],
    }),
    'PATCH_CORRUPT',
  );
});

test('hostile patch: seek before the start of the old archive', async () => {
  const result = OLD.subarray(0, 100);
  await expectRefused(
    handMadePatch({
      source: OLD,
      result,
      ops: [
        [3, zigzag(-1)],
        [0, 100],
      ],
    }),
    'PATCH_CORRUPT',
  );
});

test('hostile patch: produces more bytes than the declared result', async () => {
  const result = OLD.subarray(0, 100);
  await expectRefused(handMadePatch({ source: OLD, result, ops: [[0, 101]] }), 'PATCH_CORRUPT');
});

test('hostile patch: streams longer or shorter than declared', async () => {
  const result = Buffer.from('abcdef');
  const ok = { source: OLD, result, ops: [[2, 6]] as const, extra: result };
  await expectRefused(handMadePatch({ ...ok, extra: Buffer.from('abc') }), 'PATCH_CORRUPT');
  await expectRefused(handMadePatch({ ...ok, extra: Buffer.from('abcdefgh') }), 'PATCH_CORRUPT');
  await expectRefused(handMadePatch({ ...ok, declared: { extra: 3 } }), 'PATCH_CORRUPT');
  await expectRefused(
    handMadePatch({
      ...ok,
      ops: [
        [2, 6],
        [0, 0],
      ],
    }),
    'PATCH_CORRUPT',
  );
});

test('hostile patch: a control record with a huge length', async () => {
  const result = Buffer.from('abcdef');
  await expectRefused(
    handMadePatch({ source: OLD, result, ops: [[2, 2 ** 50]], extra: result }),
    'PATCH_CORRUPT',
  );
});

test('hostile patch: a valid program that does not give the promised result', async () => {
  const result = Buffer.from('abcdef');
  await expectRefused(
    handMadePatch({ source: OLD, result, ops: [[2, 6]], extra: Buffer.from('abcdeX') }),
    'PATCH_RESULT_MISMATCH',
  );
});

test('a hand-made valid patch applies (the hostile cases above fail for their reason only)', async () => {
  const result = Buffer.concat([OLD.subarray(10, 20), Buffer.from('xyz')]);
  const patch = handMadePatch({
    source: OLD,
    result,
    ops: [
      [3, zigzag(10)],
      [0, 10],
      [2, 3],
    ],
    extra: Buffer.from('xyz'),
  });
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'old'), OLD);
    await writeFile(join(dir, 'patch'), patch);
    await applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out'));
    assert.ok((await readFile(join(dir, 'out'))).equals(result));
  });
});

test('readPatchHeader returns the format and digests; header length is stable', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'p'), PATCH);
    const h = await readPatchHeader(join(dir, 'p'));
    assert.deepEqual(h, { format: 'notsotuf-diff-2', source: digest(OLD), result: digest(NEW) });
  });
  assert.equal(HEADER_LENGTH, 184);
});

test('an aborted apply leaves no output', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'old'), OLD);
    await writeFile(join(dir, 'patch'), PATCH);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(
      applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out'), { signal: ac.signal }),
    );
    assert.deepEqual((await readdir(dir)).sort(), ['old', 'patch']);
  });
});

test('hostile patch: streams far longer than the result can need are refused before decompressing', async () => {
  const result = Buffer.from('abcdef');
  const ok = { source: OLD, result, ops: [[2, 6]] as const, extra: result };
  await expectRefused(handMadePatch({ ...ok, declared: { control: 10_000 } }), 'PATCH_CORRUPT');
  await expectRefused(handMadePatch({ ...ok, declared: { diff: 1000 } }), 'PATCH_CORRUPT');
  await expectRefused(handMadePatch({ ...ok, declared: { extra: 7 } }), 'PATCH_CORRUPT');
});

test('a stream stored as zero bytes is refused as corrupt (no brotli stream is empty)', async () => {
  const result = OLD.subarray(100, 600);
  for (const stored of [
    { control: Buffer.alloc(0) },
    { diff: Buffer.alloc(0) },
    { extra: Buffer.alloc(0) },
  ]) {
    const patch = handMadePatch({
      source: OLD,
      result,
      ops: [
        [3, zigzag(100)],
        [0, 500],
      ],
      stored,
    });
    // The cause says what was wrong with the stored bytes.
    await expectRefused(
      patch,
      'PATCH_CORRUPT',
      OLD,
      {},
      /stream does not decompress/,
      /^a compressed stream of 0 bytes$/,
    );
  }
});
