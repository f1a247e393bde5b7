import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync } from 'node:zlib';
import { applyPatch, createPatch } from '../../src/diff/index.js';
import { CHECKSUM_OFFSET, COMPRESSION_BROTLI, encodeHeader } from '../../src/diff/format.js';
import { writeVarint } from '../../src/diff/varint.js';

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-diff-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function prng(seed: number): (n: number) => Buffer {
  let s = seed >>> 0 || 1;
  return (n) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      b[i] = s & 255;
    }
    return b;
  };
}

/** Creates a patch from `a` to `b`, applies it, and returns the patch and the rebuilt bytes. */
export async function roundTrip(a: Buffer, b: Buffer): Promise<{ patch: Buffer; rebuilt: Buffer }> {
  return withTempDir(async (dir) => {
    const [oldPath, newPath, patchPath, outPath] = ['old', 'new', 'patch', 'out'].map((n) =>
      join(dir, n),
    ) as [string, string, string, string];
    await writeFile(oldPath, a);
    await writeFile(newPath, b);
    const info = await createPatch(oldPath, newPath, patchPath);
    const patch = await readFile(patchPath);
    if (info.patchLength !== patch.length) throw new Error('patchLength is wrong');
    if (info.patchSha256 !== createHash('sha256').update(patch).digest('hex'))
      throw new Error('patchSha256 is wrong');
    const got = await applyPatch(oldPath, patchPath, outPath);
    const rebuilt = await readFile(outPath);
    if (got.length !== rebuilt.length) throw new Error('returned digest length is wrong');
    return { patch, rebuilt };
  });
}

export function digest(buf: Buffer): { sha256: string; length: number } {
  return { sha256: createHash('sha256').update(buf).digest('hex'), length: buf.length };
}

/** One raw control record: [op, length] (op 3 = seek, length already zigzagged). */
export type RawOp = readonly [number, number];

/**
 * Builds a patch by hand from raw operations and streams, with a valid checksum: what a hostile
 * (or buggy) patch writer that knows the format could produce.
 */
export function handMadePatch(p: {
  source: Buffer;
  result: Buffer;
  ops: readonly RawOp[];
  diff?: Buffer;
  extra?: Buffer;
  /** Override the declared uncompressed lengths. */
  declared?: Partial<Record<'control' | 'diff' | 'extra', number>>;
  resultDigest?: { sha256: string; length: number };
}): Buffer {
  const ctl = Buffer.alloc(p.ops.length * 9);
  let o = 0;
  for (const [op, len] of p.ops) o = writeVarint(ctl, o, len * 4 + op);
  const control = ctl.subarray(0, o);
  const diff = p.diff ?? Buffer.alloc(0);
  const extra = p.extra ?? Buffer.alloc(0);
  const streams = [control, diff, extra].map((s) => brotliCompressSync(s)) as [Buffer, Buffer, Buffer];
  const header = encodeHeader({
    source: digest(p.source),
    result: p.resultDigest ?? digest(p.result),
    compression: COMPRESSION_BROTLI,
    compressed: { control: streams[0].length, diff: streams[1].length, extra: streams[2].length },
    uncompressed: {
      control: p.declared?.control ?? control.length,
      diff: p.declared?.diff ?? diff.length,
      extra: p.declared?.extra ?? extra.length,
    },
  });
  const sum = createHash('sha256').update(header.subarray(0, CHECKSUM_OFFSET));
  for (const s of streams) sum.update(s);
  sum.digest().copy(header, CHECKSUM_OFFSET);
  return Buffer.concat([header, ...streams]);
}
