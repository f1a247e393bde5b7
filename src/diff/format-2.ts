import { DataError } from '../errors.js';
import {
  checkStreamBounds,
  COMPRESSION_BROTLI,
  decodeHeader,
  STREAMS,
  type Digest,
  type PatchHeader,
  type StreamName,
} from './format.js';
import { decodeTransforms, encodeTransforms, HeaderReader, type TransformTable } from './transform-table.js';
import { writeVarint } from './varint.js';

/**
 * The header of a `notsotuf-diff-2` patch (docs/patch-format.md): variable length, varints instead
 * of fixed 64-bit fields, a transform table, and a 16-byte checksum at its end.
 *
 *   magic "notsotuf-diff-2\n" (16) | compression byte (1 = brotli)
 *   varint source length | source sha256 (32) | varint result length | result sha256 (32)
 *   varint x 6: control, diff, extra compressed lengths, then their uncompressed lengths
 *   varint table length | transform table
 *   checksum (16): the first 16 bytes of the sha256 of the whole file but this field
 *   then the three streams
 */
export const PATCH_FORMAT_2 = 'notsotuf-diff-2';
export const MAGIC_2 = Buffer.from(`${PATCH_FORMAT_2}\n`, 'latin1');
export const CHECKSUM_2_LENGTH = 16;
/** A header is read in one go up to this length (a larger transform table is read on demand). */
export const HEADER_2_READ = 64 << 10;
/** Refuse transform tables longer than this (65536 regions need well under 2 MB). */
export const MAX_TABLE = 4 << 20;

export interface Header2Fields {
  readonly source: Digest;
  readonly result: Digest;
  readonly compressed: Readonly<Record<StreamName, number>>;
  readonly uncompressed: Readonly<Record<StreamName, number>>;
  readonly transforms: TransformTable;
}

/** The header with a zero checksum (the last CHECKSUM_2_LENGTH bytes; the writer fills them in). */
export function encodeHeader2(h: Header2Fields): Buffer {
  const table = encodeTransforms(h.transforms);
  const buf = Buffer.alloc(MAGIC_2.length + 1 + 2 * (9 + 32) + 7 * 9 + table.length + CHECKSUM_2_LENGTH);
  let o = MAGIC_2.copy(buf, 0);
  buf[o++] = COMPRESSION_BROTLI;
  for (const d of [h.source, h.result]) {
    o = writeVarint(buf, o, d.length);
    o += Buffer.from(d.sha256, 'hex').copy(buf, o);
  }
  for (const s of STREAMS) o = writeVarint(buf, o, h.compressed[s]);
  for (const s of STREAMS) o = writeVarint(buf, o, h.uncompressed[s]);
  o = writeVarint(buf, o, table.length);
  o += table.copy(buf, o);
  return buf.subarray(0, o + CHECKSUM_2_LENGTH);
}

/**
 * Parses a format-2 header from its first bytes. Returns the header, or the number of bytes needed
 * when `buf` is shorter than the header (and the file is longer).
 */
export function decodeHeader2(buf: Buffer, fileLength: number): PatchHeader | number {
  const truncated = (): DataError =>
    new DataError('PATCH_TRUNCATED', `the patch is truncated (${fileLength} bytes); download it again`);
  const r = new HeaderReader(buf, MAGIC_2.length, buf.length);
  let h: PatchHeader;
  try {
    const compression = r.u8('the compression byte');
    if (compression !== COMPRESSION_BROTLI) {
      throw new DataError('PATCH_CORRUPT', `the patch header is corrupt: unknown compression ${compression}`);
    }
    const digest = (what: string): Digest => {
      const length = r.varint(`the ${what} length`);
      return { length, sha256: Buffer.from(r.bytes(32, `the ${what} sha256`)).toString('hex') };
    };
    const source = digest('source');
    const result = digest('result');
    const compressed = {} as Record<StreamName, number>;
    const uncompressed = {} as Record<StreamName, number>;
    for (const s of STREAMS) compressed[s] = r.varint(`the ${s} stream length`);
    for (const s of STREAMS) uncompressed[s] = r.varint(`the ${s} stream length`);
    checkStreamBounds(uncompressed, result.length);
    const tableLength = r.varint('the transform table length');
    if (tableLength > MAX_TABLE) {
      throw new DataError('PATCH_CORRUPT', 'the patch header is corrupt: its transform table is too long');
    }
    const tableStart = r.pos;
    const checksumOffset = tableStart + tableLength;
    const bodyStart = checksumOffset + CHECKSUM_2_LENGTH;
    if (bodyStart > buf.length) {
      if (bodyStart > fileLength) throw truncated();
      return bodyStart;
    }
    const table = new HeaderReader(buf, tableStart, checksumOffset);
    const transforms = decodeTransforms(table, source.length, result.length);
    if (table.pos !== checksumOffset) {
      throw new DataError(
        'PATCH_CORRUPT',
        'the patch header is corrupt: its transform table has trailing bytes',
      );
    }
    h = {
      format: PATCH_FORMAT_2,
      source,
      result,
      compressed,
      uncompressed,
      compression,
      checksum: buf.toString('hex', checksumOffset, bodyStart),
      checksumOffset,
      checksumLength: CHECKSUM_2_LENGTH,
      bodyStart,
      transforms,
    };
  } catch (error) {
    // A header cut short by the end of the file is a truncated download, not a corrupt one.
    if (error instanceof DataError && /cut short/.test(error.message) && buf.length >= fileLength)
      throw truncated();
    throw error;
  }
  return h;
}

/** Parses the header of either format from the first bytes of a patch of `fileLength` bytes. */
export function decodeAnyHeader(buf: Buffer, fileLength: number): PatchHeader | number {
  if (buf.length < MAGIC_2.length && MAGIC_2.subarray(0, buf.length).equals(buf)) {
    throw new DataError('PATCH_TRUNCATED', `the patch is truncated (${buf.length} bytes); download it again`);
  }
  if (buf.length >= MAGIC_2.length && buf.subarray(0, MAGIC_2.length).equals(MAGIC_2)) {
    return decodeHeader2(buf, fileLength);
  }
  return decodeHeader(buf);
}
