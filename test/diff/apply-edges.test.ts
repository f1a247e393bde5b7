/**
 * applyPatch (src/diff/apply-patch.ts, src/diff/old-reader.ts) at the edges that round trips of
 * real archives rarely reach, each checked on the exact output bytes or the exact refusal:
 * transformed source regions across the 1 MiB steps in which the old archive is read; result
 * regions across the 1 MiB output buffers; reference prediction (the kind-5 rule of
 * docs/patch-format.md, computed here on its own) in records that cross an output buffer; the
 * exact ends of the control stream and of the old archive; an old archive that shrinks while it is
 * applied; a cancel half way; an output path that cannot be written; no file left open.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync } from 'node:zlib';
import { after, test } from 'node:test';
import { applyPatch } from '../../src/diff/index.js';
import {
  KIND_ARM64,
  KIND_X86,
  KIND_X86_RIP,
  transformInPlace,
  type Region,
} from '../../src/diff/exe-transform.js';
import { KIND_REF_DATA } from '../../src/diff/ref-predict.js';
import type { TransformEntry } from '../../src/diff/transform-table.js';
import { writeVarint, zigzag } from '../../src/diff/varint.js';
import { waitFor } from '../support/wait-for.js';
import { diffStream, digest, handMadePatch, prng, readsSoFar, withTempDir, type RawOp } from './helpers.js';

const MiB = 1 << 20;
const COPY = 0;
const ADD = 1;
const INSERT = 2;
const SEEK = 3;

/** A hand-made patch, quickly compressed (the streams here are megabytes). */
function patchOf(p: Parameters<typeof handMadePatch>[0]): Buffer {
  return handMadePatch({ ...p, quality: 2 });
}

/** Pseudo-random bytes dense in the opcodes the machine-code transforms rewrite. */
function codeLike(seed: number, n: number): Buffer {
  const b = prng(seed)(n);
  const ops = [0xe8, 0xe9, 0x0f, 0x48, 0x8b, 0x05, 0x94, 0x90, 0x8d, 0x3d];
  for (let i = 0; i < n; i += 5) b[i] = ops[(i / 5) % ops.length]!;
  return b;
}

/** Writes old and patch into a fresh folder and applies; returns the output and the folder's names. */
async function apply(
  old: Buffer,
  patch: Buffer,
  options: Parameters<typeof applyPatch>[3] = {},
): Promise<{ out: Buffer; names: string[] }> {
  return withTempDir(async (dir) => {
    await writeFile(join(dir, 'old'), old);
    await writeFile(join(dir, 'patch'), patch);
    await applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out'), options);
    return { out: await readFile(join(dir, 'out')), names: (await readdir(dir)).sort() };
  });
}

/** Applies and expects a DataError with `code` and `message`, and nothing but old and patch left. */
async function refused(
  old: Buffer,
  patch: Buffer,
  code: string,
  message: RegExp,
  options: (dir: string) => Parameters<typeof applyPatch>[3] = () => ({}),
): Promise<void> {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'old'), old);
    await writeFile(join(dir, 'patch'), patch);
    await assert.rejects(applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out'), options(dir)), {
      name: 'DataError',
      code,
      message,
    });
    assert.deepEqual((await readdir(dir)).sort(), ['old', 'patch'], 'output or temp file left behind');
  });
}

/** Runs raw records over `source` (after the source transform) the way the format defines them. */
function runOps(source: Buffer, ops: readonly RawOp[], diff: Buffer, extra: Buffer): Buffer {
  const out: Buffer[] = [];
  let oldPos = 0;
  let d = 0;
  let e = 0;
  for (const [op, len] of ops) {
    if (op === SEEK) oldPos += len % 2 === 0 ? len / 2 : -(len + 1) / 2;
    else if (op === INSERT) out.push(extra.subarray(e, (e += len)));
    else {
      const piece = Buffer.from(source.subarray(oldPos, oldPos + len));
      if (op === ADD) for (let i = 0; i < len; i++) piece[i] = (piece[i]! + diff[d++]!) & 255;
      out.push(piece);
      oldPos += len;
    }
  }
  return Buffer.concat(out);
}

test('transformed source regions across the 1 MiB read steps: exact bytes, by large and small copies', async () => {
  const size = 2 * MiB + 300_000;
  const old = codeLike(21, size);
  const x86 = (start: number, length: number, bits = 32): Region => ({
    kind: KIND_X86,
    start,
    length,
    vaddr: 0x401000 + start,
    bits,
  });
  const arm = (start: number, length: number): Region => ({
    kind: KIND_ARM64,
    start,
    length,
    vaddr: 0x100000000 + start,
    bits: 0,
  });
  // Regions at the start, packed together, ending and starting exactly at 1 MiB, across 2 MiB
  // and ending with the archive, in two entries.
  const first: Region[] = [
    x86(0, 4000),
    arm(4100, 3000),
    { kind: KIND_X86_RIP, start: 10_000, length: 5000, vaddr: 0x500000, bits: 28 },
    x86(MiB - 6000, 6000),
    x86(MiB, 3001, 24),
    x86(MiB + 50_000, 100_000),
  ];
  const second: Region[] = [x86(2 * MiB - 40_000, 80_000), arm(size - 20_000, 20_000)];
  const transforms = {
    source: [
      { start: 0, length: MiB + 200_000, regions: first },
      { start: MiB + 300_000, length: size - MiB - 300_000, regions: second },
    ],
    result: [],
  };
  const transformed = Buffer.from(old);
  transformInPlace(transformed, [...first, ...second], 1);
  assert.ok(!transformed.equals(old), 'the transform changes bytes');

  // The whole archive in one record (1 MiB reads straight into the output), then pieces of all
  // sizes from all over it (through the page cache, and straight reads of 64 KiB and more).
  const r = prng(5);
  const ops: RawOp[] = [[COPY, size]];
  let pos = size;
  let diffLength = 0;
  for (let k = 0; k < 300; k++) {
    const len = k % 50 === 0 ? 70_000 + k : 1 + (r(2).readUInt16LE() % 9000);
    const to = r(4).readUInt32LE() % (size - len);
    ops.push([SEEK, zigzag(to - pos)], [k % 2 === 0 ? COPY : ADD, len]);
    if (k % 2 === 1) diffLength += len;
    pos = to + len;
  }
  const diff = r(diffLength);
  const result = runOps(transformed, ops, diff, Buffer.alloc(0));
  const patch = patchOf({ source: old, result, ops, diff: diffStream(diff), transforms });
  const { out, names } = await apply(old, patch);
  assert.ok(out.equals(result), 'the output is not the transformed source bytes');
  assert.deepEqual(names, ['old', 'out', 'patch'], 'a temp file is left');
});

test('result regions across the 1 MiB output buffers are decoded exactly; progress reaches the total', async () => {
  const old = codeLike(22, 900_000);
  const want = codeLike(23, 2 * MiB + 123_457);
  const regions: Region[] = [
    { kind: KIND_X86, start: 100, length: 1000, vaddr: 0x401000, bits: 32 },
    { kind: KIND_X86, start: MiB - 3, length: 10_000, vaddr: 0x501000, bits: 32 },
    { kind: KIND_X86_RIP, start: 2 * MiB - 5000, length: 10_000, vaddr: 0x601000, bits: 30 },
    { kind: KIND_ARM64, start: want.length - 4000, length: 4000, vaddr: 0x701000, bits: 0 },
  ];
  const encoded = Buffer.from(want);
  transformInPlace(encoded, regions, 1);
  assert.ok(!encoded.equals(want));
  // The first 700,000 bytes as differences from the old archive, the rest inserted.
  const diff = Buffer.alloc(700_000);
  for (let i = 0; i < diff.length; i++) diff[i] = (encoded[i]! - old[i]!) & 255;
  const patch = patchOf({
    source: old,
    result: want,
    ops: [
      [ADD, 700_000],
      [INSERT, encoded.length - 700_000],
    ],
    diff: diffStream(diff),
    extra: encoded.subarray(700_000),
    transforms: { source: [], result: [{ start: 0, length: want.length, regions }] },
  });
  const calls: number[] = [];
  const { out, names } = await apply(old, patch, { onProgress: (done, total) => calls.push(done, total) });
  assert.ok(out.equals(want), 'the decoded result differs');
  assert.deepEqual(names, ['old', 'out', 'patch']);
  assert.deepEqual(calls, [MiB, want.length, 2 * MiB, want.length, want.length, want.length]);
});

/**
 * Kind-5 reference prediction as docs/patch-format.md defines it, for one source and one result
 * entry each made of one mapped data region: in every ADD record, each 8-byte word at a multiple
 * of 8 from the region's start that holds an address of the source region is replaced by the
 * result address of its new offset (the record's own mapping when the target lies in the record,
 * else the matched run covering it), before the differences are added.
 */
function predictKind5(
  old: Buffer,
  ops: readonly RawOp[],
  diff: Buffer,
  extra: Buffer,
  va: number,
  vb: number,
): Buffer {
  const runs: { o: number; n: number; len: number }[] = [];
  let o = 0;
  let n = 0;
  for (const [op, len] of ops) {
    if (op === SEEK) o += len % 2 === 0 ? len / 2 : -(len + 1) / 2;
    else if (op === INSERT) n += len;
    else {
      runs.push({ o, n, len });
      o += len;
      n += len;
    }
  }
  const out: Buffer[] = [];
  o = 0;
  n = 0;
  let d = 0;
  let e = 0;
  for (const [op, len] of ops) {
    if (op === SEEK) o += len % 2 === 0 ? len / 2 : -(len + 1) / 2;
    else if (op === INSERT) {
      out.push(extra.subarray(e, (e += len)));
      n += len;
    } else {
      const piece = Buffer.from(old.subarray(o, o + len));
      if (op === ADD) {
        for (let p = Math.ceil(o / 8) * 8; p + 8 <= o + len; p += 8) {
          const v = Number(old.readBigUInt64LE(p));
          if (v < va || v >= va + old.length) continue;
          const from = v - va;
          const run =
            from >= o && from < o + len ? { o, n, len } : runs.find((x) => from >= x.o && from < x.o + x.len);
          if (run === undefined) continue;
          piece.writeBigUInt64LE(BigInt(vb + run.n + (from - run.o)), p - o);
        }
        for (let i = 0; i < len; i++) piece[i] = (piece[i]! + diff[d++]!) & 255;
      }
      out.push(piece);
      o += len;
      n += len;
    }
  }
  return Buffer.concat(out);
}

test('reference prediction in records that cross an output buffer, through the matched runs', async () => {
  const VA = 0x400000;
  const VB = 0x900000;
  const size = 1_600_000;
  const r = prng(31);
  const old = r(size);
  // Every other word, about, a pointer into the region; the rest out of range either way.
  for (let p = 0; p < size; p += 8) {
    const k = r(4).readUInt32LE();
    if (k % 3 !== 0) old.writeBigUInt64LE(BigInt(VA + (k % size)), p);
    else if (k % 2 === 0) old.writeBigUInt64LE(BigInt(k % VA), p);
  }
  // The word cut by the end of the first output buffer points into its own record (so it is
  // predicted), with three non-zero bytes past the cut.
  const cut = MiB - 8;
  old.writeBigUInt64LE(BigInt(VA + 0x123456), cut);
  const ops: RawOp[] = [
    [INSERT, 7], // records after this start 7 bytes off the 8-byte grid of the output
    [ADD, 1_200_000], // across the 1 MiB output buffer, which cuts a word after its first byte
    [SEEK, zigzag(100_000)],
    [COPY, 50_000], // a run of the map; copies are not predicted
    [INSERT, 5],
    [SEEK, zigzag(-99_996)], // [1_200_000, 1_250_004) stays unmatched: pointers there stay as they are
    [ADD, 49_996],
    [SEEK, zigzag(50_000)],
    [ADD, 250_000],
  ];
  let diffLength = 0;
  for (const [op, len] of ops) if (op === ADD) diffLength += len;
  const diff = r(diffLength);
  for (let i = 0; i < diff.length; i += 3) diff[i] = 0;
  const extra = Buffer.from('abcdefghijkl');
  const want = predictKind5(old, ops, diff, extra, VA, VB);
  const entry = (length: number, vaddr: number): TransformEntry => ({
    start: 0,
    length,
    regions: [{ kind: KIND_REF_DATA, start: 0, length, vaddr, bits: 1 }],
  });
  const patch = patchOf({
    source: old,
    result: want,
    ops,
    diff: diffStream(diff),
    extra,
    transforms: { source: [entry(size, VA)], result: [entry(want.length, VB)] },
  });
  const { out } = await apply(old, patch);
  assert.equal(out.length, want.length);
  const plain = runOps(old, ops, diff, extra);
  assert.notEqual(want.readBigUInt64LE(MiB - 1), plain.readBigUInt64LE(MiB - 1), 'the cut word is predicted');
  assert.ok(out.equals(want), 'the predicted result differs');
});

test('a predicting patch whose control stream does not decompress is refused before any output', async () => {
  const old = prng(51)(5000);
  const entry = (length: number): TransformEntry => ({
    start: 0,
    length,
    regions: [{ kind: KIND_REF_DATA, start: 0, length, vaddr: 0, bits: 0 }],
  });
  const patch = patchOf({
    source: old,
    result: old,
    ops: [[COPY, old.length]],
    stored: { control: Buffer.from([0x1b, 0xff]) },
    transforms: { source: [entry(old.length)], result: [entry(old.length)] },
  });
  await refused(old, patch, 'PATCH_CORRUPT', /: its control stream does not decompress;/);
});

test('a stream that does not decompress is refused, also when it fails long before it is read', async () => {
  // Not brotli: a valid start cut short. The program copies 4 MiB before it reads the extra or
  // difference stream, whose decoder has failed by then: a DataError, not a crash of the process.
  const old = prng(52)(4 * MiB);
  const bad = Buffer.from([0x1b, 0xff]);
  const cases: [Partial<Record<'diff' | 'extra', Buffer>>, RawOp[]][] = [
    [
      { extra: bad },
      [
        [COPY, old.length],
        [SEEK, zigzag(-old.length)],
        [INSERT, 1],
      ],
    ],
    [
      { diff: bad },
      [
        [COPY, old.length],
        [SEEK, zigzag(-old.length)],
        [ADD, 1],
      ],
    ],
  ];
  for (const [stored, ops] of cases) {
    const result = Buffer.concat([old, old.subarray(0, 1)]);
    const patch = patchOf({ source: old, result, ops, stored, declared: { diff: 1, extra: 1 } });
    await refused(old, patch, 'PATCH_CORRUPT', /stream does not decompress/);
  }
});

test('the exact ends of the old archive and multi-byte records apply', async () => {
  const old = prng(41)(20_000);
  const ops: RawOp[] = [
    [SEEK, zigzag(1000)],
    [COPY, 32], // record 128: two bytes, the first 0x80
    [INSERT, 3],
    [SEEK, zigzag(-1032)], // back to exactly 0
    [COPY, 16_384], // record 65536: three bytes
    [SEEK, zigzag(20_000 - 16_384)], // to exactly the end
    [INSERT, 5], // inserting at the end reads nothing of the old archive
    [SEEK, zigzag(-10)],
    [ADD, 10], // up to exactly the end
  ];
  const diff = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const extra = Buffer.from('xyz12345');
  const want = runOps(old, ops, diff, extra);
  const patch = patchOf({ source: old, result: want, ops, diff: diffStream(diff), extra });
  const { out } = await apply(old, patch);
  assert.ok(out.equals(want));
});

test('broken control records are refused with the reason in the message', async () => {
  const old = prng(43)(5000);
  const result = Buffer.from('abcdef');
  const bad = (control: Buffer | RawOp[], extra = result): Buffer =>
    patchOf({
      source: old,
      result,
      ops: Array.isArray(control) ? control : [],
      ...(Array.isArray(control) ? {} : { control }),
      extra,
    });
  const cases: [Buffer, RegExp][] = [
    [bad(Buffer.from([0x80])), /: a control record is cut short;/],
    [
      bad(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])),
      /: a control record is too long;/,
    ],
    [
      bad(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])),
      /: a control record is out of range;/,
    ],
    [bad([[INSERT, 3]], result.subarray(0, 3)), /: it ends before the result is complete;/],
    [bad([[INSERT, 7]]), /: it produces more bytes than the result has;/],
    [
      bad([
        [INSERT, 3],
        [INSERT, 4],
      ]),
      /: it produces more bytes than the result has;/,
    ],
    [
      bad([
        [SEEK, zigzag(5001)],
        [INSERT, 6],
      ]),
      /: it seeks outside the old archive;/,
    ],
    [
      bad([
        [SEEK, zigzag(-1)],
        [INSERT, 6],
      ]),
      /: it seeks outside the old archive;/,
    ],
    [
      bad([
        [SEEK, zigzag(4999)],
        [COPY, 2],
        [INSERT, 4],
      ]),
      /: it reads past the end of the old archive;/,
    ],
  ];
  for (const [patch, message] of cases) await refused(old, patch, 'PATCH_CORRUPT', message);
});

test('an old archive that shrinks while the patch is applied is refused, nothing left', async () => {
  const old = prng(44)(3 * MiB);
  const whole: RawOp[] = [[COPY, old.length]]; // 1 MiB reads straight into the output
  const pieces: RawOp[] = Array.from({ length: 768 }, () => [COPY, 4096] as const); // through the cache
  for (const ops of [whole, pieces]) {
    const patch = patchOf({ source: old, result: old, ops });
    await refused(
      old,
      patch,
      'PATCH_SOURCE_CHANGED',
      /the old archive changed while the patch was applied/,
      (dir) => ({
        onProgress: () => truncateSync(join(dir, 'old'), 0),
      }),
    );
  }
});

test('a transformed copy of the old archive cut short while it is used is refused, nothing left', async () => {
  // The transformed bytes of the source's code regions are kept in a temp file beside the output
  // while the patch applies; if it loses bytes, the apply stops instead of waiting for them.
  const old = codeLike(49, 3 * MiB);
  const regions: Region[] = [
    { kind: KIND_X86, start: 1000, length: 3 * MiB - 2000, vaddr: 0x401000, bits: 32 },
  ];
  const transformed = Buffer.from(old);
  transformInPlace(transformed, regions, 1);
  const source = [{ start: 0, length: old.length, regions }];
  const whole: RawOp[] = [[COPY, old.length]];
  const pieces: RawOp[] = Array.from({ length: 768 }, () => [COPY, 4096] as const);
  for (const ops of [whole, pieces]) {
    const patch = patchOf({ source: old, result: transformed, ops, transforms: { source, result: [] } });
    await refused(old, patch, 'PATCH_SOURCE_CHANGED', /changed while the patch was applied/, (dir) => ({
      onProgress: () => {
        for (const name of readdirSync(dir)) {
          const path = join(dir, name);
          if (name.startsWith('.tmp-') && statSync(path).size === regions[0]!.length) truncateSync(path, 0);
        }
      },
    }));
  }
});

test('an old archive or its transformed copy cut inside a read is refused as changed, not read again', async () => {
  // Cut so that the last read the program needs gets part of its bytes: the rest must not be
  // taken from anywhere else in the file.
  const old = codeLike(57, 3 * MiB);
  const direct: RawOp[] = [[COPY, 2 * MiB]]; // 1 MiB reads; the second one is cut
  const cached: RawOp[] = [...Array.from({ length: 512 }, () => [COPY, 4096] as const), [COPY, 10_000]];
  const cases: [RawOp[], number][] = [
    [direct, MiB + 5000],
    [cached, 2 * MiB + 5000],
  ];
  for (const [ops, cut] of cases) {
    const patch = patchOf({ source: old, result: runOps(old, ops, Buffer.alloc(0), Buffer.alloc(0)), ops });
    await refused(old, patch, 'PATCH_SOURCE_CHANGED', /changed while the patch was applied/, (dir) => ({
      onProgress: () => truncateSync(join(dir, 'old'), cut),
    }));
  }
  const regions: Region[] = [
    { kind: KIND_X86, start: 1000, length: 3 * MiB - 2000, vaddr: 0x401000, bits: 32 },
  ];
  const transformed = Buffer.from(old);
  transformInPlace(transformed, regions, 1);
  const patch = patchOf({
    source: old,
    result: transformed.subarray(0, 2 * MiB),
    ops: direct,
    transforms: { source: [{ start: 0, length: old.length, regions }], result: [] },
  });
  await refused(old, patch, 'PATCH_SOURCE_CHANGED', /changed while the patch was applied/, (dir) => ({
    onProgress: () => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (name.startsWith('.tmp-') && statSync(path).size === regions[0]!.length)
          truncateSync(path, MiB - 1000 + 5000);
      }
    },
  }));
});

test('a cancel half way stops the apply and leaves nothing', async () => {
  const old = codeLike(45, 2 * MiB + 100);
  const regions: Region[] = [{ kind: KIND_X86, start: 1000, length: 500_000, vaddr: 0x401000, bits: 32 }];
  const transformed = Buffer.from(old);
  transformInPlace(transformed, regions, 1);
  const patch = patchOf({
    source: old,
    result: transformed,
    ops: [[COPY, old.length]],
    transforms: { source: [{ start: 0, length: old.length, regions }], result: [] },
  });
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'old'), old);
    await writeFile(join(dir, 'patch'), patch);
    const ac = new AbortController();
    let calls = 0;
    await assert.rejects(
      applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out'), {
        signal: ac.signal,
        onProgress: () => {
          calls++;
          ac.abort();
        },
      }),
      { name: 'AbortError' },
    );
    assert.equal(calls, 1, 'the apply goes on after the cancel');
    assert.deepEqual((await readdir(dir)).sort(), ['old', 'patch']);
  });
});

test('a predicting patch is refused for its control records before anything is written', async () => {
  // The control stream of a predicting patch is read once first, for the map of its prediction.
  const old = prng(53)(5000);
  const entry = (length: number): TransformEntry => ({
    start: 0,
    length,
    regions: [{ kind: KIND_REF_DATA, start: 0, length, vaddr: 0, bits: 0 }],
  });
  const result = old.subarray(0, 100);
  const predicting = (ops: RawOp[]): Buffer =>
    patchOf({ source: old, result, ops, transforms: { source: [entry(old.length)], result: [entry(100)] } });
  await refused(
    old,
    predicting([
      [COPY, 50],
      [COPY, 51],
    ]),
    'PATCH_CORRUPT',
    /: it produces more bytes than the result has;/,
  );
  // A record after the result is complete is left over, not read as more output.
  await refused(
    old,
    predicting([
      [COPY, 100],
      [COPY, 10],
    ]),
    'PATCH_CORRUPT',
    /: its control stream has bytes left over after the result was complete;/,
  );
});

test('a stream cut one byte short is refused by its name, though the next byte would complete it', async () => {
  const old = prng(54)(5000);
  const result = Buffer.concat([old.subarray(0, 100), Buffer.from('xyz')]);
  const ops: RawOp[] = [
    [COPY, 100],
    [INSERT, 3],
  ];
  const control = brotliCompressSync(Buffer.from([0x90, 0x03, 0x0e])); // COPY 100, INSERT 3;
  // The control stream's last byte is stored as the first byte of the difference stream.
  const cut = patchOf({
    source: old,
    result,
    ops,
    extra: Buffer.from('xyz'),
    stored: { control: control.subarray(0, -1), diff: control.subarray(-1) },
  });
  await refused(old, cut, 'PATCH_CORRUPT', /: its control stream does not decompress;/);
});

test('an old archive that is missing or a folder is refused as the old archive', async () => {
  await withTempDir(async (dir) => {
    const folder = join(dir, 'old');
    await mkdir(folder);
    await writeFile(join(folder, 'f'), 'x');
    // A source exactly as long as the folder's size, so that only reading it can fail.
    const { size } = statSync(folder);
    const source = codeLike(55, size);
    const regions: Region[] = [{ kind: KIND_X86, start: 0, length: size, vaddr: 0x1000, bits: 32 }];
    const plain = patchOf({ source, result: source, ops: [[COPY, size]] });
    const transformed = Buffer.from(source);
    transformInPlace(transformed, regions, 1);
    const withRegions = patchOf({
      source,
      result: transformed,
      ops: [[COPY, size]],
      transforms: { source: [{ start: 0, length: size, regions }], result: [] },
    });
    for (const patch of [plain, withRegions]) {
      await writeFile(join(dir, 'patch'), patch);
      await assert.rejects(applyPatch(folder, join(dir, 'patch'), join(dir, 'out')), {
        name: 'UsageError',
        code: 'NOT_A_FILE',
        message: `old archive ${folder} is a directory, not a file`,
      });
      assert.deepEqual((await readdir(dir)).sort(), ['old', 'patch']);
    }
    const missing = join(dir, 'gone');
    await assert.rejects(applyPatch(missing, join(dir, 'patch'), join(dir, 'out')), {
      name: 'UsageError',
      code: 'FILE_NOT_FOUND',
      message: `old archive ${missing} does not exist`,
    });
  });
});

test('a program that does not give the promised result is refused saying so', async () => {
  const old = prng(56)(5000);
  const promised = old.subarray(0, 100);
  const other = Buffer.from(promised);
  other[50] = other[50]! ^ 1;
  const patch = patchOf({
    source: old,
    result: promised,
    ops: [[INSERT, 100]],
    extra: other,
    resultDigest: digest(promised),
  });
  await refused(
    old,
    patch,
    'PATCH_RESULT_MISMATCH',
    new RegExp(
      `^applying the patch gave an archive whose sha256 \\(${digest(other).sha256}\\) is not the one the patch promises \\(${digest(promised).sha256}\\); the patch is corrupt: download the full archive$`,
    ),
  );
});

test('an output path that is a folder, or in a missing folder, is refused, nothing left', async () => {
  const old = prng(46)(5000);
  const patch = patchOf({ source: old, result: old.subarray(0, 100), ops: [[COPY, 100]] });
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'old'), old);
    await writeFile(join(dir, 'patch'), patch);
    await mkdir(join(dir, 'out'));
    await writeFile(join(dir, 'out', 'keep'), 'x');
    await assert.rejects(applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out')), {
      name: 'UsageError',
      code: 'NOT_A_FILE',
      message: `output ${join(dir, 'out')} is a directory, not a file`,
    });
    assert.deepEqual((await readdir(dir)).sort(), ['old', 'out', 'patch']);
    assert.deepEqual(await readdir(join(dir, 'out')), ['keep']);
    await assert.rejects(applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'none', 'out')), {
      name: 'UsageError',
      code: 'FILE_NOT_FOUND',
      message: /^output .*none.* does not exist$/,
    });
    assert.deepEqual((await readdir(dir)).sort(), ['old', 'out', 'patch']);
  });
});

/** One control record's bytes. */
function varint(v: number): Buffer {
  const b = Buffer.alloc(9);
  return b.subarray(0, writeVarint(b, 0, v));
}

/** Files this process has open (Linux). */
async function openFiles(): Promise<string[]> {
  const names = await readdir('/proc/self/fd');
  return Promise.all(names.map((n) => readlink(`/proc/self/fd/${n}`).catch(() => '')));
}

test(
  'no file is left open after an apply, whether it succeeds or is refused',
  { skip: process.platform !== 'linux' && 'reads /proc/self/fd' },
  async () => {
    const old = codeLike(47, 1_500_000);
    const regions: Region[] = [{ kind: KIND_X86, start: 1000, length: 500_000, vaddr: 0x401000, bits: 32 }];
    const transformed = Buffer.from(old);
    transformInPlace(transformed, regions, 1);
    const withRegions = { source: [{ start: 0, length: old.length, regions }], result: [] };
    const predicting = (length: number): TransformEntry => ({
      start: 0,
      length,
      regions: [{ kind: KIND_REF_DATA, start: 0, length, vaddr: 0x400000, bits: 1 }],
    });
    // Incompressible streams, so a refusal comes while most of them is still unread.
    const extra = prng(48)(1_000_000);
    const wrong = Buffer.from(extra).fill(1, 0, 10);
    const patches: [Buffer, boolean][] = [
      [
        patchOf({
          source: old,
          result: transformed,
          ops: [[COPY, old.length]],
          transforms: withRegions,
        }),
        true,
      ],
      [
        patchOf({
          source: old,
          result: Buffer.concat([extra, old]),
          ops: [
            [INSERT, 1000],
            [SEEK, zigzag(old.length)],
            [COPY, 1],
          ],
          extra,
          transforms: withRegions,
        }),
        false,
      ],
      [patchOf({ source: old, result: extra, ops: [[INSERT, extra.length]], extra: wrong }), false],
      // A predicting patch reads its control stream once more before it writes: refused at its
      // first record (it copies more than the result has), with most of that stream unread.
      [
        patchOf({
          source: old,
          result: old.subarray(0, 200_000),
          ops: [],
          control: Buffer.concat([varint(200_001 * 4 + COPY), prng(59)(3_000_000)]),
          transforms: { source: [predicting(old.length)], result: [predicting(200_000)] },
        }),
        false,
      ],
    ];
    // A file handle left open is closed by the garbage collector, with a warning: both count.
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    after(() => process.off('warning', onWarning));
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'old'), old);
      for (const [i, [patch, ok]] of patches.entries()) {
        await writeFile(join(dir, 'patch'), patch);
        const run = applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, `out${i}`));
        if (ok) await run;
        else await assert.rejects(run, { name: 'DataError' });
        const ours = async (): Promise<string[]> => (await openFiles()).filter((f) => f.startsWith(dir));
        await waitFor(`files of apply ${i} to be closed`, async () =>
          (await ours()).length === 0 && warnings.length === 0 ? true : undefined,
        ).catch(async (e: unknown) => {
          throw new Error(`apply ${i} left open: ${(await ours()).join(', ')} ${warnings.join('; ')}`, {
            cause: e,
          });
        });
      }
    });
  },
);

test('the matched runs of the map end at every SEEK or INSERT, also of 0 bytes, and only there', async () => {
  // docs/patch-format.md: each maximal run of consecutive COPY/ADD records is one run; sorted by
  // old start, each run is cut where the previous one ended. Here a run X covers old [0, 200) and
  // a later run Y old [50, 250). The pointer in the ADD record points at old offset 150: in X
  // when X is one run, in Y when X is two runs [0, 100) and [100, 200) (Y then starts before the
  // second one and takes [100, 250)).
  const VA = 0x400000;
  const VB = 0x900000;
  const old = prng(58)(4096);
  old.writeBigUInt64LE(BigInt(VA + 150), 1000);
  const entry = (length: number, vaddr: number): TransformEntry => ({
    start: 0,
    length,
    regions: [{ kind: KIND_REF_DATA, start: 0, length, vaddr, bits: 1 }],
  });
  const cases: [string, RawOp[], number][] = [
    ['two COPY records in a row are one run', [], VB + 150],
    ['a SEEK of 0 bytes ends a run', [[SEEK, zigzag(0)]], VB + 300],
    ['an INSERT of 0 bytes ends a run', [[INSERT, 0]], VB + 300],
  ];
  for (const [what, between, pointer] of cases) {
    const ops: RawOp[] = [
      [COPY, 100], // new [0, 100) from old [0, 100)
      ...between,
      [COPY, 100], // new [100, 200) from old [100, 200)
      [SEEK, zigzag(-150)],
      [COPY, 200], // Y: new [200, 400) from old [50, 250)
      [SEEK, zigzag(1000 - 250)],
      [ADD, 8], // the pointer, with zero differences: the result holds its prediction
    ];
    const word = Buffer.alloc(8);
    word.writeBigUInt64LE(BigInt(pointer));
    const want = Buffer.concat([old.subarray(0, 200), old.subarray(50, 250), word]);
    const patch = patchOf({
      source: old,
      result: want,
      ops,
      diff: diffStream(Buffer.alloc(8)),
      transforms: { source: [entry(old.length, VA)], result: [entry(want.length, VB)] },
    });
    const { out } = await apply(old, patch);
    assert.equal(out.readBigUInt64LE(400), BigInt(pointer), what);
    assert.ok(out.equals(want), what);
  }
});

test(
  'a patch with reference regions on one side only reads its control stream once',
  { skip: readsSoFar() === undefined && 'reads /proc/self/io (Linux)' },
  async () => {
    // Prediction needs reference regions on both sides; with one side only there is no map to
    // build, so the control stream (most of this patch) is not read a second time for one.
    const old = prng(63)(64 * 1024);
    const r = prng(64);
    const ops: RawOp[] = [];
    let o = 0;
    for (let i = 0; i < 150_000; i++) {
      const b = r(3);
      const to = b.readUInt16LE(0) % (old.length - 16);
      const len = 1 + (b[2]! % 16);
      ops.push([SEEK, zigzag(to - o)], [COPY, len]);
      o = to + len;
    }
    const result = runOps(old, ops, Buffer.alloc(0), Buffer.alloc(0));
    const entry = (length: number): TransformEntry => ({
      start: 0,
      length,
      regions: [{ kind: KIND_REF_DATA, start: 0, length, vaddr: 0x400000, bits: 1 }],
    });
    const sides: [string, TransformEntry[], TransformEntry[]][] = [
      ['source', [entry(old.length)], []],
      ['result', [], [entry(result.length)]],
    ];
    for (const [side, source, resultSide] of sides) {
      const patch = patchOf({ source: old, result, ops, transforms: { source, result: resultSide } });
      await withTempDir(async (dir) => {
        await writeFile(join(dir, 'old'), old);
        await writeFile(join(dir, 'patch'), patch);
        const before = readsSoFar()!;
        await applyPatch(join(dir, 'old'), join(dir, 'patch'), join(dir, 'out'));
        const bytes = readsSoFar()!.bytes - before.bytes;
        assert.ok((await readFile(join(dir, 'out'))).equals(result), side);
        // The patch twice (its checksum, its streams) and the old archive twice (its hash, the
        // cache's pages); a second reading of the control stream would add most of the patch
        // once more (0.5 MB).
        assert.ok(patch.length > 500_000, `a patch of ${patch.length} bytes`);
        assert.ok(
          bytes < 2.5 * patch.length + 2 * old.length,
          `${bytes} bytes read for a patch of ${patch.length} (references on the ${side} side only)`,
        );
      });
    }
  },
);
