import { DataError } from '../errors.js';
import {
  KIND_ARM64,
  KIND_DELTA,
  KIND_REF_ARM64,
  KIND_X86,
  KIND_X86_RIP,
  MAX_DELTA_WORDS,
  type Region,
} from './exe-transform.js';
import { KIND_PAGE_HASH, MAX_PAGE_SHIFT, MIN_PAGE_SHIFT, PAGE_HASH_SIZE, pageCount } from './page-hash.js';
import { isRefKind, KIND_REF_SYMTAB } from './ref-predict.js';
import { writeVarint } from './varint.js';

/**
 * The transform table of a notsotuf-diff-2 patch: for the source and for the result archive, the
 * tar entries that hold machine code and, inside each, the code regions with their transform
 * (docs/patch-format.md). The applier never parses executables: it trusts this table as far as
 * its bounds go (every region inside its entry, every entry inside its archive), and the result's
 * sha256 catches everything else.
 */
export interface TransformEntry {
  /** Archive offset and length of the entry's data. */
  readonly start: number;
  readonly length: number;
  /** Regions in archive offsets, sorted, inside the entry. */
  readonly regions: readonly Region[];
}

export interface TransformTable {
  readonly source: readonly TransformEntry[];
  readonly result: readonly TransformEntry[];
}

/** At most this many regions per archive (a hostile table cannot ask for unbounded work). */
export const MAX_REGIONS = 1 << 16;

/**
 * The regions to transform: reference-prediction regions are not transformed
 * (src/diff/ref-predict.ts), but for arm64 code (KIND_REF_ARM64), which is transformed as ARM64.
 */
export function regionsOf(entries: readonly TransformEntry[]): Region[] {
  return entries.flatMap((e) =>
    e.regions
      .filter((r) => !isRefKind(r.kind) || r.kind === KIND_REF_ARM64)
      .map((r) => (r.kind === KIND_PAGE_HASH ? { ...r, base: e.start } : r)),
  );
}

/** Encodes the table (all varints; offsets as gaps from the previous end). */
export function encodeTransforms(t: TransformTable): Buffer {
  const parts: Buffer[] = [];
  let buf = Buffer.allocUnsafe(4096);
  let o = 0;
  const room = (): void => {
    if (o + 64 > buf.length) {
      parts.push(buf.subarray(0, o));
      buf = Buffer.allocUnsafe(4096);
      o = 0;
    }
  };
  const v = (n: number): void => {
    room();
    o = writeVarint(buf, o, n);
  };
  for (const side of [t.source, t.result]) {
    v(side.length);
    let prevEnd = 0;
    for (const e of side) {
      v(e.start - prevEnd);
      v(e.length);
      v(e.regions.length);
      let rEnd = e.start;
      for (const r of e.regions) {
        room();
        buf[o++] = r.kind;
        v(r.start - rEnd);
        v(r.length);
        v(r.vaddr);
        room();
        buf[o++] = r.bits;
        rEnd = r.start + r.length;
      }
      prevEnd = e.start + e.length;
    }
  }
  parts.push(buf.subarray(0, o));
  return Buffer.concat(parts);
}

function corrupt(what: string): DataError {
  return new DataError('PATCH_CORRUPT', `the patch header is corrupt: ${what}; download it again`);
}

/** A cursor over header bytes whose every read is bounded. */
export class HeaderReader {
  pos: number;
  constructor(
    private readonly buf: Uint8Array,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  u8(what: string): number {
    if (this.pos >= this.end) throw corrupt(`${what} is cut short`);
    return this.buf[this.pos++] as number;
  }

  varint(what: string): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8(what);
      v += (b % 128) * scale;
      if (b < 128) {
        if (!Number.isSafeInteger(v)) throw corrupt(`${what} is out of range`);
        return v;
      }
      scale *= 128;
    }
    throw corrupt(`${what} is too long`);
  }

  bytes(n: number, what: string): Uint8Array {
    if (this.pos + n > this.end) throw corrupt(`${what} is cut short`);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

/** The parameter byte (and, for DELTA, the unused address) a region of `kind` may have. */
function goodParameters(kind: number, bits: number, vaddr: number): boolean {
  if (kind === KIND_REF_SYMTAB) return bits === 0;
  if (kind === KIND_REF_ARM64) return bits === 1;
  if (isRefKind(kind)) return bits <= 1;
  if (kind === KIND_ARM64) return bits === 0;
  if (kind === KIND_DELTA) return bits >= 1 && bits <= MAX_DELTA_WORDS && vaddr === 0;
  if (kind === KIND_PAGE_HASH) return bits >= MIN_PAGE_SHIFT && bits <= MAX_PAGE_SHIFT && vaddr > 0;
  return bits >= 8 && bits <= 32;
}

function readSide(r: HeaderReader, archiveLength: number, side: string): TransformEntry[] {
  const n = r.varint(`the ${side} transform table`);
  if (n > MAX_REGIONS) throw corrupt(`its ${side} transform table is too long`);
  const entries: TransformEntry[] = [];
  let prevEnd = 0;
  let total = 0;
  for (let k = 0; k < n; k++) {
    const start = prevEnd + r.varint('a transform entry');
    const length = r.varint('a transform entry');
    if (start + length > archiveLength) {
      throw corrupt(`a transformed entry lies outside the ${side} archive`);
    }
    const count = r.varint('a transform entry');
    total += count;
    if (total > MAX_REGIONS) throw corrupt(`its ${side} transform table is too long`);
    const regions: Region[] = [];
    let rEnd = start;
    for (let j = 0; j < count; j++) {
      const kind = r.u8('a transform region');
      const rStart = rEnd + r.varint('a transform region');
      const rLength = r.varint('a transform region');
      const vaddr = r.varint('a transform region');
      const bits = r.u8('a transform region');
      if (
        kind !== KIND_X86 &&
        kind !== KIND_ARM64 &&
        kind !== KIND_X86_RIP &&
        kind !== KIND_DELTA &&
        kind !== KIND_PAGE_HASH &&
        !isRefKind(kind)
      ) {
        throw corrupt(`unknown transform kind ${kind}`);
      }
      if (!goodParameters(kind, bits, vaddr)) throw corrupt('a transform region has bad parameters');
      if (kind === KIND_REF_SYMTAB && vaddr >= length) {
        throw corrupt(`a symbol table's string table lies outside its entry of the ${side} archive`);
      }
      if (rLength === 0 || rStart + rLength > start + length) {
        throw corrupt(`a transform region lies outside its entry of the ${side} archive`);
      }
      if (kind === KIND_PAGE_HASH) {
        // One per entry, after the bytes it hashes (from the entry's start), one hash per page.
        if (
          regions.some((x) => x.kind === KIND_PAGE_HASH) ||
          start + vaddr > rStart ||
          rLength !== pageCount(vaddr, bits) * PAGE_HASH_SIZE
        ) {
          throw corrupt(`a page hash region does not fit its entry of the ${side} archive`);
        }
      }
      regions.push({ kind, start: rStart, length: rLength, vaddr, bits });
      rEnd = rStart + rLength;
    }
    entries.push({ start, length, regions });
    prevEnd = start + length;
  }
  return entries;
}

export function decodeTransforms(
  r: HeaderReader,
  sourceLength: number,
  resultLength: number,
): TransformTable {
  const source = readSide(r, sourceLength, 'source');
  const result = readSide(r, resultLength, 'result');
  return { source, result };
}
