import type { Digest } from '../core/custom-metadata.js';
import { DataError } from '../errors.js';
import type { TransformTable } from './transform-table.js';

/**
 * The on-disk layout of a `notsotuf-diff-1` patch (documented in docs/patch-format.md). All integers
 * are unsigned big-endian 64-bit values read as JavaScript numbers and refused above 2^53 - 1.
 *
 *   0   16  magic: "notsotuf-diff-1\n"
 *   16   8  source length          24  32  source sha256
 *   56   8  result length          64  32  result sha256
 *   96   8  control stream, compressed length
 *   104  8  difference stream, compressed length
 *   112  8  extra stream, compressed length
 *   120  8  control stream, uncompressed length
 *   128  8  difference stream, uncompressed length
 *   136  8  extra stream, uncompressed length
 *   144  1  compression (1 = brotli), then 7 zero bytes
 *   152 32  sha256 of bytes 0..152 followed by the three streams (everything but this field)
 *   184     the control, difference and extra streams, one after the other
 */
export const PATCH_FORMAT = 'notsotuf-diff-1';
export const MAGIC = Buffer.from(`${PATCH_FORMAT}\n`, 'latin1');
export const HEADER_LENGTH = 184;
export const CHECKSUM_OFFSET = 152;
export const COMPRESSION_BROTLI = 1;

export type { Digest };

/** The three streams of a patch, in file order. */
export const STREAMS = ['control', 'diff', 'extra'] as const;
export type StreamName = (typeof STREAMS)[number];

export interface PatchHeader {
  readonly format: string;
  /** Where the checksum field is, how long it is, and where the streams start. */
  readonly checksumOffset: number;
  readonly checksumLength: number;
  readonly bodyStart: number;
  /** Machine-code regions (format 2): transformed in the source before, undone in the result after. */
  readonly transforms: TransformTable;
  readonly source: Digest;
  readonly result: Digest;
  readonly compressed: Readonly<Record<StreamName, number>>;
  readonly uncompressed: Readonly<Record<StreamName, number>>;
  readonly compression: number;
  /** sha256 (hex) of the whole file except the checksum field itself. */
  readonly checksum: string;
}

/** Control stream operations: each record is a varint `length * 4 + op`. */
export const OP_COPY = 0; // copy `length` bytes of the source at the source position
export const OP_ADD = 1; // add `length` difference bytes to the source bytes at the source position
export const OP_INSERT = 2; // copy `length` bytes from the extra stream
export const OP_SEEK = 3; // move the source position by a zigzag-encoded signed `length`

function writeU64(buf: Buffer, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`bad length ${value}`);
  buf.writeBigUInt64BE(BigInt(value), offset);
}

function readU64(buf: Buffer, offset: number, field: string): number {
  const v = buf.readBigUInt64BE(offset);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DataError('PATCH_CORRUPT', `the patch header is corrupt: ${field} is out of range`);
  }
  return Number(v);
}

/** The header bytes, with a zero checksum field (the writer fills it in at the end). */
export function encodeHeader(
  h: Omit<
    PatchHeader,
    'format' | 'checksum' | 'checksumOffset' | 'checksumLength' | 'bodyStart' | 'transforms'
  >,
): Buffer {
  const buf = Buffer.alloc(HEADER_LENGTH);
  MAGIC.copy(buf, 0);
  writeU64(buf, 16, h.source.length);
  Buffer.from(h.source.sha256, 'hex').copy(buf, 24);
  writeU64(buf, 56, h.result.length);
  Buffer.from(h.result.sha256, 'hex').copy(buf, 64);
  STREAMS.forEach((s, i) => {
    writeU64(buf, 96 + 8 * i, h.compressed[s]);
    writeU64(buf, 120 + 8 * i, h.uncompressed[s]);
  });
  buf[144] = h.compression;
  return buf;
}

/** Parses and bounds-checks a header. Throws DataError PATCH_NOT_A_PATCH / PATCH_CORRUPT. */
export function decodeHeader(buf: Buffer): PatchHeader {
  if (buf.length < MAGIC.length && MAGIC.subarray(0, buf.length).equals(buf)) {
    throw new DataError('PATCH_TRUNCATED', `the patch is truncated (${buf.length} bytes); download it again`);
  }
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    const looksLikeOurs = buf.subarray(0, 13).toString('latin1') === 'notsotuf-diff';
    throw new DataError(
      looksLikeOurs ? 'PATCH_UNSUPPORTED_FORMAT' : 'PATCH_NOT_A_PATCH',
      looksLikeOurs
        ? `the patch uses a format this version cannot read (this version reads notsotuf-diff-1 and notsotuf-diff-2); update notsotuf or download the full archive`
        : `the file is not a ${PATCH_FORMAT} patch (wrong magic bytes); check that you passed a patch made by "notsotuf diff"`,
    );
  }
  if (buf.length < HEADER_LENGTH) {
    throw new DataError(
      'PATCH_TRUNCATED',
      `the patch is truncated: ${buf.length} bytes, shorter than its ${HEADER_LENGTH}-byte header; download it again`,
    );
  }
  const compressed = {} as Record<StreamName, number>;
  const uncompressed = {} as Record<StreamName, number>;
  STREAMS.forEach((s, i) => {
    compressed[s] = readU64(buf, 96 + 8 * i, `${s} stream length`);
    uncompressed[s] = readU64(buf, 120 + 8 * i, `${s} stream length`);
  });
  const compression = buf[144] ?? 0;
  if (compression !== COMPRESSION_BROTLI || !buf.subarray(145, 152).equals(Buffer.alloc(7))) {
    throw new DataError('PATCH_CORRUPT', 'the patch header is corrupt: unknown compression or flags');
  }
  checkStreamBounds(uncompressed, readU64(buf, 56, 'result length'));
  return {
    format: PATCH_FORMAT,
    source: { length: readU64(buf, 16, 'source length'), sha256: buf.toString('hex', 24, 56) },
    result: { length: readU64(buf, 56, 'result length'), sha256: buf.toString('hex', 64, 96) },
    compressed,
    uncompressed,
    compression,
    checksum: buf.toString('hex', CHECKSUM_OFFSET, HEADER_LENGTH),
    checksumOffset: CHECKSUM_OFFSET,
    checksumLength: HEADER_LENGTH - CHECKSUM_OFFSET,
    bodyStart: HEADER_LENGTH,
    transforms: { source: [], result: [] },
  };
}

/**
 * Bounds the work a patch can ask for by the size of its result: every record but a SEEK produces
 * a byte or more, and no writer needs more than two records (16 bytes) per output byte; the
 * run-length coded differences take at most 2 bytes per difference; extra bytes are output bytes.
 */
export function checkStreamBounds(
  uncompressed: Readonly<Record<StreamName, number>>,
  resultLength: number,
): void {
  if (
    uncompressed.control > resultLength * 16 + 64 ||
    uncompressed.diff > resultLength * 2 + 16 ||
    uncompressed.extra > resultLength
  ) {
    throw new DataError(
      'PATCH_CORRUPT',
      'the patch header is corrupt: its streams are longer than its result can need',
    );
  }
}

/** Total file length the header announces. */
export function patchLengthOf(h: PatchHeader): number {
  return h.bodyStart + h.compressed.control + h.compressed.diff + h.compressed.extra;
}
