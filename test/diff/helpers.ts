import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';
import { applyPatch, createPatch } from '../../src/diff/index.js';
import { CHECKSUM_OFFSET, COMPRESSION_BROTLI, encodeHeader } from '../../src/diff/format.js';
import { RegionCoder, type Region } from '../../src/diff/exe-transform.js';
import { decodeAnyHeader, encodeHeader2 } from '../../src/diff/format-2.js';
import type { TransformTable } from '../../src/diff/transform-table.js';
import { writeVarint } from '../../src/diff/varint.js';
import { withTempDir } from '../support/temp-dir.js';

export { withTempDir };

export { prngBytes as prng } from '../support/random.js';

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
  /** Raw control bytes instead of `ops` (records that no writer makes). */
  control?: Buffer;
  diff?: Buffer;
  extra?: Buffer;
  /** Stored (compressed) bytes of a stream instead of the brotli of its content. */
  stored?: Partial<Record<'control' | 'diff' | 'extra', Buffer>>;
  /** Brotli quality (default 11); a low one builds patches of megabytes in milliseconds, not seconds. */
  quality?: number;
  /** Override the declared uncompressed lengths. */
  declared?: Partial<Record<'control' | 'diff' | 'extra', number>>;
  resultDigest?: { sha256: string; length: number };
  /** Write format 2 (varint header) with this transform table. */
  transforms?: TransformTable;
  /** Format 2: the compression ("format") byte after the magic. */
  compressionByte?: number;
}): Buffer {
  const ctl = Buffer.alloc(p.ops.length * 9);
  let o = 0;
  for (const [op, len] of p.ops) o = writeVarint(ctl, o, len * 4 + op);
  const compress = (b: Buffer): Buffer =>
    brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: p.quality ?? 11 } });
  const control = p.control ?? ctl.subarray(0, o);
  const diff = p.diff ?? Buffer.alloc(0);
  const extra = p.extra ?? Buffer.alloc(0);
  const streams = [
    p.stored?.control ?? compress(control),
    p.stored?.diff ?? compress(diff),
    p.stored?.extra ?? compress(extra),
  ] as [Buffer, Buffer, Buffer];
  const fields = {
    source: digest(p.source),
    result: p.resultDigest ?? digest(p.result),
    compression: COMPRESSION_BROTLI,
    compressed: { control: streams[0].length, diff: streams[1].length, extra: streams[2].length },
    uncompressed: {
      control: p.declared?.control ?? control.length,
      diff: p.declared?.diff ?? diff.length,
      extra: p.declared?.extra ?? extra.length,
    },
  };
  if (p.transforms !== undefined) {
    const header = encodeHeader2({ ...fields, transforms: p.transforms });
    if (p.compressionByte !== undefined) header[16] = p.compressionByte;
    return reseal(Buffer.concat([header, ...streams]), header.length - 16, header.length);
  }
  const header = encodeHeader(fields);
  return reseal(Buffer.concat([header, ...streams]), CHECKSUM_OFFSET, 184);
}

/**
 * A patch from `oldTar` to `newTar` whose control stream inserts the whole new tar from the extra
 * stream (or runs `ops`), with the given transform table: what the hostile transform-table tests
 * vary (test/security/hostile-patch-*.test.ts).
 */
export function wholeTarPatch(
  tars: { readonly oldTar: Buffer; readonly newTar: Buffer },
  transforms: TransformTable,
  options: { ops?: readonly RawOp[]; compressionByte?: number } = {},
): Buffer {
  return handMadePatch({
    source: tars.oldTar,
    result: tars.newTar,
    ops: options.ops ?? [[2, tars.newTar.length]],
    extra: tars.newTar,
    transforms,
    ...(options.compressionByte === undefined ? {} : { compressionByte: options.compressionByte }),
  });
}

/** The difference stream for `differences` (one per ADD byte, in order), run-length coded as the format says. */
export function diffStream(differences: Uint8Array): Buffer {
  const out = Buffer.alloc(differences.length * 2 + 16);
  let o = 0;
  for (let i = 0; i < differences.length;) {
    if (differences[i] !== 0) {
      out[o++] = differences[i++] as number;
      continue;
    }
    let n = 0;
    while (i + n < differences.length && differences[i + n] === 0) n++;
    out[o++] = 0;
    o = writeVarint(out, o, n - 1);
    i += n;
  }
  return out.subarray(0, o);
}

/** Recomputes the checksum field [at, end) of a patch of either format (in place). */
export function reseal(patch: Buffer, at: number, end: number): Buffer {
  const sum = createHash('sha256').update(patch.subarray(0, at)).update(patch.subarray(end)).digest();
  sum.copy(patch, at, 0, end - at);
  return patch;
}

/** Where the checksum field and the streams of a well-formed patch of either format are. */
export function patchLayout(patch: Buffer): { checksumOffset: number; bodyStart: number } {
  const h = decodeAnyHeader(patch, patch.length);
  if (typeof h === 'number') throw new Error('header longer than the patch');
  return { checksumOffset: h.checksumOffset, bodyStart: h.bodyStart };
}

/** Decodes `buf` through a RegionCoder fed in chunks of the given sizes (as applyPatch does). */
export function decodeChunked(buf: Buffer, regions: Region[], sizes: () => number): Buffer {
  const out: Buffer[] = [];
  const coder = new RegionCoder(regions, -1);
  let carry = Buffer.alloc(0);
  let pos = 0;
  let at = 0;
  for (;;) {
    const n = Math.min(sizes(), buf.length - at);
    const chunk = Buffer.concat([carry, buf.subarray(at, at + n)]);
    at += n;
    const last = at >= buf.length;
    const done = coder.push(chunk, pos, chunk.length, last);
    assert.ok(chunk.length - done < 16, 'the coder holds back at most 15 bytes');
    out.push(Buffer.from(chunk.subarray(0, done)));
    carry = Buffer.from(chunk.subarray(done));
    pos += done;
    if (last) {
      assert.equal(carry.length, 0, 'the coder holds bytes back at the end');
      return Buffer.concat(out);
    }
  }
}

/**
 * Reads of this process so far (Linux): read system calls and bytes read, from /proc/self/io
 * (every read and pread of the process, its thread pool included); undefined elsewhere. Besides
 * the reads of files, an asynchronous file operation costs one read of the thread pool's 8-byte
 * wake-up counter (an eventfd) when it ends, and a loaded machine adds a few hundred small reads
 * now and then: bounds on these counts must leave room for both.
 */
export function readsSoFar(): { calls: number; bytes: number } | undefined {
  let io: string;
  try {
    io = readFileSync('/proc/self/io', 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string): number => {
    const m = new RegExp(`^${name}: (\\d+)$`, 'm').exec(io);
    if (m === null) throw new Error(`no ${name} in /proc/self/io`);
    return Number(m[1]);
  };
  return { calls: field('syscr'), bytes: field('rchar') };
}

/** One section header of `writeElf64` (index 1 on; index 0 is the null section). */
export interface ElfSection {
  /** sh_type: 1 PROGBITS, 2 SYMTAB, 3 STRTAB... */
  readonly type: number;
  /** sh_flags: 2 ALLOC, 4 EXECINSTR, 1 WRITE. */
  readonly flags?: number;
  readonly addr?: number;
  readonly offset: number;
  readonly size: number;
  readonly link?: number;
  readonly entsize?: number;
}

/**
 * Writes into `b` the ELF64 little-endian header of a synthetic test executable for `machine`
 * (62 x86-64, 183 aarch64) and its section headers at `shoff` (a null section, then `sections`):
 * only the fields the region finder reads. Callers place the sections' bytes themselves.
 */
export function writeElf64(b: Buffer, machine: number, shoff: number, sections: readonly ElfSection[]): void {
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  b.writeUInt16LE(machine, 18);
  b.writeBigUInt64LE(BigInt(shoff), 40);
  b.writeUInt16LE(64, 58);
  b.writeUInt16LE(sections.length + 1, 60);
  sections.forEach((sec, k) => {
    const s = shoff + (k + 1) * 64;
    b.writeUInt32LE(sec.type, s + 4);
    b.writeBigUInt64LE(BigInt(sec.flags ?? 0), s + 8);
    b.writeBigUInt64LE(BigInt(sec.addr ?? 0), s + 16);
    b.writeBigUInt64LE(BigInt(sec.offset), s + 24);
    b.writeBigUInt64LE(BigInt(sec.size), s + 32);
    if (sec.link !== undefined) b.writeUInt32LE(sec.link, s + 40);
    if (sec.entsize !== undefined) b.writeBigUInt64LE(BigInt(sec.entsize), s + 56);
  });
}
