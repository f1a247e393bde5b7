import { KIND_REF_ARM64, RIP_OP1, RIP_OP2, type Region } from './exe-transform.js';
import type { TransformEntry } from './transform-table.js';

/**
 * Reference prediction (format notsotuf-diff-2, kinds 4, 5 and 7; docs/patch-format.md), after the
 * idea of Chromium's Zucchini (the code here is our own). In a recompiled executable, code and data
 * move, and every reference to something that moved changes: a call's rel32 operand, a pointer in a
 * table, a symbol's address. The matcher follows moved code, so most of those references lie in
 * matched (ADD) regions, where the difference stream holds `new - old` per byte. Here, before
 * differences are taken, each reference found in the old bytes of an ADD record is replaced by its
 * prediction: its old target, mapped through the matches themselves (the equivalence map, old
 * offset -> new offset) and encoded back at its new position. A reference whose target moved with
 * the rest of the code then costs zero difference bytes.
 *
 * Both sides compute the same prediction from the old archive, the transform table and the control
 * stream alone: the creator from its matches, the applier by reading the control stream once before
 * it streams (the map needs every match, a reference may point forward).
 *
 * Region kinds (a tar entry of the table holds these kinds and, besides, only DELTA tables):
 * - `KIND_REF_X86` (4): x86-64 code. Scanning forward from the start of each ADD record, an E8/E9
 *   (call/jmp rel32), 0F 80..8F (jcc rel32) or a rip-relative memory operand (see x86Operand)
 *   whose operand lies inside the record and the region is a reference; the scan goes on after
 *   its operand, otherwise by one byte. A reference whose target lies in the same record and the
 *   same region is left as it is (it moved with its target).
 * - `KIND_REF_DATA` (5): data. Every 8-byte little-endian word at an offset from the region's start
 *   divisible by 8, inside the record, whose value is an address of a mapped region of the entry,
 *   is a pointer (vtables, jump tables, relocation addends, symbol values).
 * - `KIND_REF_SYMTAB` (7): an ELF64 symbol table (.symtab, .dynsym): 24-byte records from the
 *   region's start. `st_value` (offset 8) is predicted as a pointer of kind 5; `st_name` (offset 0,
 *   32 bits) is an offset into the table's string table, which starts `vaddr` bytes after the
 *   entry's start: it is predicted through the map as an offset into the string table of the
 *   result's symbol table region (every string inserted before a name moves it).
 * - `KIND_REF_ARM64` (8): arm64 code, transformed as ARM64 (kind 2: BL and ADRP words hold
 *   absolute word and page numbers) before matching and prediction. Each 4-byte word (aligned by
 *   address) of an ADD record inside the region: a BL's target (its absolute word number, nearest
 *   to the word's own address) becomes the new target's word number; a B's relative target the new
 *   one; an ADRP whose next word is an ADD (64-bit, immediate, unshifted) or an unsigned-offset
 *   load/store with the ADRP's register as base is a pair: its target (page + low 12 bits) becomes
 *   the new target's page (absolute) and low 12 bits (scaled for a load/store); the scan goes on
 *   after the pair. A B whose target lies in the same record and region is left as it is.
 * The region's parameter byte is 1 when the region has an address (`vaddr` is where it is loaded),
 * 0 when it does not (a symbol table: it holds pointers, nothing points into it); kind 7 has 0,
 * kind 8 has 1.
 */
export { KIND_REF_ARM64 };
export const KIND_REF_X86 = 4;
export const KIND_REF_DATA = 5;
export const KIND_REF_SYMTAB = 7;
/** Bytes of an ELF64 symbol (Elf64_Sym). */
export const SYM_SIZE = 24;

export function isRefKind(kind: number): boolean {
  return (
    kind === KIND_REF_X86 || kind === KIND_REF_DATA || kind === KIND_REF_SYMTAB || kind === KIND_REF_ARM64
  );
}

/** Most matched runs the map may hold (about 24 bytes each): bounds the applier's memory. */
export const MAX_SEGMENTS = 1 << 20;

/**
 * Entries of a table side that use reference prediction (any region of kind 4, 5 or 7), sorted by
 * start. Their other regions (DELTA tables) are transformed, and the predictor passes over them.
 */
export function refEntries(entries: readonly TransformEntry[]): TransformEntry[] {
  return entries.filter((e) => e.regions.some((r) => isRefKind(r.kind)));
}

/** A region whose `vaddr` is its load address: where the addresses of references point. */
function isMapped(r: Region): boolean {
  return r.bits === 1 && (r.kind === KIND_REF_X86 || r.kind === KIND_REF_DATA || r.kind === KIND_REF_ARM64);
}

function entryAt(entries: readonly TransformEntry[], pos: number): TransformEntry | undefined {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = entries[mid] as TransformEntry;
    if (e.start + e.length <= pos) lo = mid + 1;
    else hi = mid;
  }
  const e = entries[lo];
  return e !== undefined && e.start <= pos ? e : undefined;
}

/**
 * The matched runs of a patch (new start, old start, length), collected in new order. Consecutive
 * runs that continue each other (contiguous in both) are one run, so the creator (from its
 * matcher) and the applier (from COPY/ADD records) see the same runs. Only runs whose old bytes
 * touch an entry of `oldEntries` are kept.
 */
export class SegmentList {
  n = new Float64Array(1024);
  o = new Float64Array(1024);
  len = new Float64Array(1024);
  count = 0;
  /** True once more than MAX_SEGMENTS runs were kept. */
  overflow = false;
  private curN = -1;
  private curO = -1;
  private curLen = 0;

  constructor(private readonly oldEntries: readonly TransformEntry[]) {}

  add(n: number, o: number, len: number): void {
    if (len <= 0) return;
    if (this.curLen > 0 && n === this.curN + this.curLen && o === this.curO + this.curLen) {
      this.curLen += len;
      return;
    }
    this.end();
    this.curN = n;
    this.curO = o;
    this.curLen = len;
  }

  /** Ends the current run (an INSERT or SEEK comes next, or the program ends). */
  end(): void {
    const len = this.curLen;
    if (len <= 0) return;
    this.curLen = 0;
    const e = entryAt(this.oldEntries, this.curO) ?? entryAt(this.oldEntries, this.curO + len - 1);
    if (e === undefined) {
      // Touches an entry only if one lies inside it.
      const after = this.oldEntries.find((x) => x.start >= this.curO);
      if (after === undefined || after.start >= this.curO + len) return;
    }
    if (this.count >= MAX_SEGMENTS) {
      this.overflow = true;
      return;
    }
    if (this.count === this.n.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.n = grow(this.n);
      this.o = grow(this.o);
      this.len = grow(this.len);
    }
    this.n[this.count] = this.curN;
    this.o[this.count] = this.curO;
    this.len[this.count] = len;
    this.count++;
  }
}

/** Old offset -> new offset, from the matched runs (sorted by old start; where runs overlap, the one that starts first, then comes first in the patch, wins). */
export class EquivalenceMap {
  private readonly o: Float64Array;
  private readonly n: Float64Array;
  private readonly len: Float64Array;
  private readonly count: number;

  constructor(s: SegmentList) {
    s.end();
    // Sorted by old start, then by order in the patch: keys old start * 2^20 + index, sorted
    // numerically (exact: old starts are under 2^33, indexes under MAX_SEGMENTS = 2^20).
    const keys = new Float64Array(s.count);
    for (let k = 0; k < s.count; k++) keys[k] = Math.min(s.o[k] as number, 2 ** 33 - 1) * MAX_SEGMENTS + k;
    keys.sort();
    const idx = Uint32Array.from(keys, (key) => key % MAX_SEGMENTS);
    this.o = new Float64Array(s.count);
    this.n = new Float64Array(s.count);
    this.len = new Float64Array(s.count);
    let c = 0;
    let end = 0;
    for (const k of idx) {
      const o = s.o[k] as number;
      const stop = o + (s.len[k] as number);
      const from = Math.max(o, end);
      if (stop <= from) continue;
      this.o[c] = from;
      this.n[c] = (s.n[k] as number) + (from - o);
      this.len[c] = stop - from;
      c++;
      end = stop;
    }
    this.count = c;
  }

  /** The new offset of old offset `o`, or -1 when no run covers it. */
  /** The run found last: lookups of one region of code often land in the same run. */
  private last = 0;

  toNew(o: number): number {
    const l = this.last;
    if (l < this.count) {
      const from = this.o[l] as number;
      if (o >= from && o < from + (this.len[l] as number)) return (this.n[l] as number) + (o - from);
    }
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.o[mid] as number) <= o) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return -1;
    const k = lo - 1;
    const from = this.o[k] as number;
    if (o >= from + (this.len[k] as number)) return -1;
    this.last = k;
    return (this.n[k] as number) + (o - from);
  }
}

/** An entry's mapped regions sorted by address, for address -> offset lookups. */
interface AddressIndex {
  /** Lowest address and end of the highest region. */
  readonly lo: number;
  readonly hi: number;
  readonly vaddr: Float64Array;
  readonly start: Float64Array;
  readonly length: Float64Array;
}

function addressIndex(e: TransformEntry): AddressIndex {
  const mapped = e.regions.filter(isMapped).sort((a, b) => a.vaddr - b.vaddr);
  const last = mapped[mapped.length - 1];
  return {
    lo: mapped[0]?.vaddr ?? 0,
    hi: last === undefined ? 0 : last.vaddr + last.length,
    vaddr: Float64Array.from(mapped, (r) => r.vaddr),
    start: Float64Array.from(mapped, (r) => r.start),
    length: Float64Array.from(mapped, (r) => r.length),
  };
}

/** Archive offset of address `a` in the entry, or -1. */
function offsetOf(ix: AddressIndex, a: number): number {
  if (a < ix.lo || a >= ix.hi) return -1;
  let lo = 0;
  let hi = ix.vaddr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ix.vaddr[mid] as number) <= a) lo = mid + 1;
    else hi = mid;
  }
  if (lo === 0) return -1;
  const k = lo - 1;
  const d = a - (ix.vaddr[k] as number);
  return d < (ix.length[k] as number) ? (ix.start[k] as number) + d : -1;
}

function regionAt(regions: readonly Region[], pos: number): Region | undefined {
  let lo = 0;
  let hi = regions.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const r = regions[mid] as Region;
    if (r.start + r.length <= pos) lo = mid + 1;
    else hi = mid;
  }
  const r = regions[lo];
  return r !== undefined && r.start <= pos ? r : undefined;
}

const TWO32 = 4294967296;

/** Bytes that may start a reference of x86 code: E8, E9, 0F, REX prefixes, rip-relative opcodes. */
const X86_START = new Uint8Array(256);
X86_START[0xe8] = X86_START[0xe9] = X86_START[0x0f] = 1;
for (let b = 0x40; b <= 0x4f; b++) X86_START[b] = 1;
for (let b = 0; b < 256; b++) if (RIP_OP1[b] === 1) X86_START[b] = 1;

/** x86Operand for an instruction at buf[i] whose 8 bytes are all in `buf` and before the limit. */
function x86OperandAt(buf: Uint8Array, i: number): number {
  const b = buf[i] as number;
  if (b === 0xe8 || b === 0xe9) return 1;
  let k = i;
  if (b >= 0x40 && b <= 0x4f) k++;
  const op = buf[k] as number;
  if (op === 0x0f) {
    const c = buf[k + 1] as number;
    if (k === i && c >= 0x80 && c <= 0x8f) return 2;
    if (RIP_OP2[c] === 1 && ((buf[k + 2] as number) & 0xc7) === 0x05) return k + 3 - i;
  } else if (RIP_OP1[op] === 1 && ((buf[k + 1] as number) & 0xc7) === 0x05) return k + 2 - i;
  return 0;
}

/**
 * Where the 32-bit relative operand of an instruction starting at `q` is (its offset from `q`), or
 * 0 when none: E8/E9 rel32, 0F 80..8F rel32, and rip-relative memory operands ([REX] op modrm
 * disp32 or [REX] 0F op modrm disp32 with mod 00, r/m 101, for opcodes without an immediate, so
 * the displacement is relative to its own end). The operand must end at or before `limit`.
 */
function x86Operand(byte: (p: number) => number, q: number, limit: number): number {
  if (q + 5 > limit) return 0;
  const b = byte(q);
  if (b === 0xe8 || b === 0xe9) return 1;
  let k = q;
  if (b >= 0x40 && b <= 0x4f) k++;
  const op = k === q ? b : byte(k);
  let at = 0;
  if (op === 0x0f) {
    if (k + 1 >= limit) return 0;
    const c = byte(k + 1);
    if (k === q && c >= 0x80 && c <= 0x8f) at = 2;
    else if (RIP_OP2[c] === 1 && k + 2 < limit && (byte(k + 2) & 0xc7) === 0x05) at = k + 3 - q;
  } else if (RIP_OP1[op] === 1 && k + 1 < limit && (byte(k + 1) & 0xc7) === 0x05) at = k + 2 - q;
  return at > 0 && q + at + 4 <= limit ? at : 0;
}

/**
 * Rewrites the references in the old bytes of ADD records into their predictions. Used the same way
 * by the creator and the applier: `begin` at each ADD record, then `piece` for consecutive pieces
 * of it, each with the old bytes that follow it in the record (up to 8, for a reference that
 * straddles two pieces: its bytes past the piece are written at the start of the next one).
 */
export class Predictor {
  private readonly source: TransformEntry[];
  private readonly result: TransformEntry[];
  private readonly index = new Map<TransformEntry, AddressIndex>();
  private active = false;
  private recOld = 0;
  private recNew = 0;
  private recEnd = 0;
  private srcEntry: TransformEntry | undefined;
  private dstEntry: TransformEntry | undefined;
  /** Next old offset the code scan looks at. */
  private scan = 0;
  /** Predicted bytes past the last piece: their old offsets and values. */
  private readonly pendingPos: number[] = [];
  private readonly pendingVal: number[] = [];
  /** References predicted (for measurements). */
  predicted = 0;

  constructor(
    source: readonly TransformEntry[],
    result: readonly TransformEntry[],
    private readonly map: EquivalenceMap,
  ) {
    this.source = refEntries(source);
    this.result = refEntries(result);
  }

  get enabled(): boolean {
    return this.source.length > 0 && this.result.length > 0;
  }

  private addrIndex(e: TransformEntry): AddressIndex {
    let ix = this.index.get(e);
    if (ix === undefined) {
      ix = addressIndex(e);
      this.index.set(e, ix);
    }
    return ix;
  }

  /** An ADD record: old [oldStart, oldStart + length) gives new [newStart, newStart + length). */
  begin(oldStart: number, newStart: number, length: number): void {
    this.pendingPos.length = 0;
    this.pendingVal.length = 0;
    this.recOld = oldStart;
    this.recNew = newStart;
    this.recEnd = oldStart + length;
    this.scan = oldStart;
    this.srcEntry = entryAt(this.source, oldStart);
    this.dstEntry = entryAt(this.result, newStart);
    this.active = this.srcEntry !== undefined && this.dstEntry !== undefined;
    this.lastRegion = undefined;
  }

  /**
   * buf[at, at + n) holds old[pos, pos + n) (the next piece of the current record); `ahead` holds
   * the old bytes after it, up to 8 of them or the record's end (bytes past the record's end are never read).
   * predictions in place.
   */
  piece(buf: Uint8Array, at: number, pos: number, n: number, ahead: Uint8Array): void {
    if (!this.active) return;
    const end = pos + n;
    // Bytes of references that began in the previous piece.
    let keep = 0;
    for (let k = 0; k < this.pendingPos.length; k++) {
      const p = this.pendingPos[k] as number;
      if (p < end) buf[at + p - pos] = this.pendingVal[k] as number;
      else {
        this.pendingPos[keep] = p;
        this.pendingVal[keep++] = this.pendingVal[k] as number;
      }
    }
    this.pendingPos.length = keep;
    this.pendingVal.length = keep;
    const src = this.srcEntry as TransformEntry;
    const byte = (p: number): number =>
      p < end ? (buf[at + p - pos] as number) : (ahead[p - end] as number);
    const limitOf = (r: Region): number => Math.min(this.recEnd, r.start + r.length);
    const bounds = this.addrIndex(src);
    // The regions overlapping this piece: from the first one ending after `pos`.
    let ri = 0;
    for (let hi = src.regions.length; ri < hi;) {
      const mid = (ri + hi) >>> 1;
      const m = src.regions[mid] as Region;
      if (m.start + m.length <= pos) ri = mid + 1;
      else hi = mid;
    }
    for (; ri < src.regions.length; ri++) {
      const r = src.regions[ri] as Region;
      if (r.start >= end) break;
      const limit = limitOf(r);
      if (r.kind === KIND_REF_X86) {
        let q = Math.max(this.scan, r.start, pos);
        const fast = Math.min(end, limit) - 8; // candidates before this need no bytes of `ahead`
        while (q < end && q < limit) {
          let op = 0;
          if (q < fast) {
            // Up to `fast`, straight on the buffer, without a call per byte.
            let i = at + q - pos;
            const stop = at + fast - pos;
            while (i < stop) {
              if (X86_START[buf[i] as number] === 1 && (op = x86OperandAt(buf, i)) !== 0) break;
              i++;
            }
            q = i - at + pos;
            if (op === 0) continue; // at `fast`: the rest of the piece byte by byte
          } else {
            op = x86Operand(byte, q, limit);
            if (op === 0) {
              q++;
              continue;
            }
          }
          const p = q + op;
          const i = at + p - pos;
          const rel =
            p + 4 <= end
              ? (buf[i] as number) |
                ((buf[i + 1] as number) << 8) |
                ((buf[i + 2] as number) << 16) |
                ((buf[i + 3] as number) << 24)
              : byte(p) | (byte(p + 1) << 8) | (byte(p + 2) << 16) | (byte(p + 3) << 24);
          this.predictRel(buf, at, pos, end, src, r, p, rel);
          q = p + 4;
        }
        this.scan = Math.max(this.scan, q);
      } else if (r.kind === KIND_REF_ARM64) {
        this.scan = this.arm64(buf, at, pos, end, src, r, byte);
      } else if (r.kind === KIND_REF_SYMTAB) {
        const first = Math.max(pos, this.recOld, r.start);
        for (let q = r.start + Math.floor((first - r.start) / SYM_SIZE) * SYM_SIZE; q < end; q += SYM_SIZE) {
          // st_name (32 bits at 0), st_value (64 bits at 8), each when it starts in this piece
          if (q >= first && q + 4 <= limit) {
            const name = (byte(q) | (byte(q + 1) << 8) | (byte(q + 2) << 16) | (byte(q + 3) << 24)) >>> 0;
            if (name !== 0) this.predictName(buf, at, pos, end, src, r, q, name);
          }
          const p = q + 8;
          if (p >= first && p < end && p + 8 <= limit) {
            const lo = (byte(p) | (byte(p + 1) << 8) | (byte(p + 2) << 16) | (byte(p + 3) << 24)) >>> 0;
            const hi = (byte(p + 4) | (byte(p + 5) << 8) | (byte(p + 6) << 16) | (byte(p + 7) << 24)) >>> 0;
            const value = hi * TWO32 + lo;
            if (hi < 0x200000 && value >= bounds.lo && value < bounds.hi)
              this.predictAbs(buf, at, pos, end, src, p, value);
          }
        }
      } else if (r.kind === KIND_REF_DATA) {
        const first = Math.max(pos, this.recOld, r.start);
        let p = r.start + Math.ceil((first - r.start) / 8) * 8;
        for (; p < end && p + 8 <= limit; p += 8) {
          let lo: number;
          let hi: number;
          if (p + 8 <= end) {
            const i = at + p - pos;
            hi =
              ((buf[i + 4] as number) |
                ((buf[i + 5] as number) << 8) |
                ((buf[i + 6] as number) << 16) |
                ((buf[i + 7] as number) << 24)) >>>
              0;
            if (hi >= 0x200000) continue;
            lo =
              ((buf[i] as number) |
                ((buf[i + 1] as number) << 8) |
                ((buf[i + 2] as number) << 16) |
                ((buf[i + 3] as number) << 24)) >>>
              0;
          } else {
            lo = (byte(p) | (byte(p + 1) << 8) | (byte(p + 2) << 16) | (byte(p + 3) << 24)) >>> 0;
            hi = (byte(p + 4) | (byte(p + 5) << 8) | (byte(p + 6) << 16) | (byte(p + 7) << 24)) >>> 0;
          }
          if (hi >= 0x200000) continue;
          const value = hi * TWO32 + lo;
          if (value < bounds.lo || value >= bounds.hi) continue; // not an address of the entry
          this.predictAbs(buf, at, pos, end, src, p, value);
        }
      }
    }
  }

  /**
   * The arm64 words of region `r` in this piece (kind 8, see the top of this file); returns where
   * the scan resumes (past a pair that ends after the piece).
   */
  private arm64(
    buf: Uint8Array,
    at: number,
    pos: number,
    end: number,
    src: TransformEntry,
    r: Region,
    byte: (p: number) => number,
  ): number {
    const limit = Math.min(this.recEnd, r.start + r.length);
    const base = r.vaddr - r.start; // address = archive offset + base
    let q = Math.max(this.scan, r.start, pos);
    const mis = (((q + base) % 4) + 4) % 4;
    if (mis !== 0) q += 4 - mis;
    for (; q < end && q + 4 <= limit; q += 4) {
      const i = at + q - pos;
      // The top byte decides (BL 0x94-0x97, B 0x14-0x17, ADRP 0x90/0xb0/0xd0/0xf0): most words are none.
      const top = q + 4 <= end ? (buf[i + 3] as number) : byte(q + 3);
      const op = top & 0xfc;
      if (op !== 0x94 && op !== 0x14 && (top & 0x9f) !== 0x90) continue;
      const w = this.word(buf, at, pos, end, byte, q);
      const pc = q + base;
      if (op === 0x94) {
        // BL, absolute (kind 2): the word number of the target, modulo 2^26
        const a = w & 0x3ffffff;
        const rel = (((a - (Math.floor(pc / 4) % 0x4000000)) % 0x4000000) + 0x4000000) % 0x4000000;
        const target = pc + (rel >= 0x2000000 ? rel - 0x4000000 : rel) * 4;
        const nt = this.mapAddress(src, target);
        if (nt < 0) continue;
        const na = Math.floor(nt / 4) % 0x4000000;
        if (na !== a) this.put(buf, at, pos, end, q, (0x94000000 | na) >>> 0, 0, 4);
      } else if (op === 0x14) {
        // B, relative
        const imm = w & 0x3ffffff;
        const target = pc + (imm >= 0x2000000 ? imm - 0x4000000 : imm) * 4;
        const from = offsetOf(this.addrIndex(src), target);
        if (from < 0) continue;
        if (from >= this.recOld && from < this.recEnd && from >= r.start && from < limit) continue;
        const nt = this.newAddress(from);
        const here = nt < 0 ? -1 : this.addressInResult(this.recNew + (q - this.recOld));
        if (here < 0) continue;
        const d = (nt - here) / 4;
        if (!Number.isInteger(d) || d < -0x2000000 || d >= 0x2000000) continue;
        const out = (0x14000000 | (d & 0x3ffffff)) >>> 0;
        if (out !== w) this.put(buf, at, pos, end, q, out, 0, 4);
      } else if (q + 8 <= limit) {
        // ADRP, absolute (kind 2): the target's page number modulo 2^21, with its ADD or load/store
        const w2 = this.word(buf, at, pos, end, byte, q + 4);
        const rd = w & 31;
        if (((w2 >>> 5) & 31) !== rd) continue;
        let scale: number;
        if ((w2 & 0xffc00000) >>> 0 === 0x91000000)
          scale = 0; // ADD Xd, Xn, #imm12
        else if ((w2 & 0x3b000000) >>> 0 === 0x39000000) {
          // LDR/STR (unsigned offset): scaled by the access size (128-bit for a Q register)
          scale = (w2 & 0x04800000) >>> 0 === 0x04800000 ? 4 : w2 >>> 30;
        } else continue;
        const page = (((w >>> 5) & 0x7ffff) << 2) | ((w >>> 29) & 3);
        const pcPage = Math.floor(pc / 4096);
        const rel = (((page - (pcPage % 0x200000)) % 0x200000) + 0x200000) % 0x200000;
        const lo = ((w2 >>> 10) & 0xfff) * 2 ** scale;
        q += 4; // the pair's second word is not scanned again
        if (lo >= 4096) continue;
        const target = (pcPage + (rel >= 0x100000 ? rel - 0x200000 : rel)) * 4096 + lo;
        const nt = this.mapAddress(src, target);
        if (nt < 0) continue;
        const nlo = nt % 4096;
        if (nlo % 2 ** scale !== 0) continue;
        const np = Math.floor(nt / 4096) % 0x200000;
        const out = ((w & 0x9f00001f) | ((np & 3) << 29) | ((np >>> 2) << 5)) >>> 0;
        const out2 = ((w2 & 0xffc003ff) | ((nlo / 2 ** scale) << 10)) >>> 0;
        if (out !== w || out2 !== w2) {
          this.put(buf, at, pos, end, q - 4, out, 0, 4);
          this.put(buf, at, pos, end, q, out2, 0, 4);
        }
      }
    }
    return Math.max(this.scan, q);
  }

  /** The little-endian word at old offset p (from buf before `end`, else through `byte`). */
  private word(
    buf: Uint8Array,
    at: number,
    pos: number,
    end: number,
    byte: (p: number) => number,
    p: number,
  ): number {
    if (p + 4 <= end) {
      const i = at + p - pos;
      return (
        ((buf[i] as number) |
          ((buf[i + 1] as number) << 8) |
          ((buf[i + 2] as number) << 16) |
          ((buf[i + 3] as number) << 24)) >>>
        0
      );
    }
    return (byte(p) | (byte(p + 1) << 8) | (byte(p + 2) << 16) | (byte(p + 3) << 24)) >>> 0;
  }

  /** The new address of old address `a` of entry `src` through the map, or -1. */
  private mapAddress(src: TransformEntry, a: number): number {
    const from = offsetOf(this.addrIndex(src), a);
    return from < 0 ? -1 : this.newAddress(from);
  }

  /** The address in the result entry of the new offset of old offset `from`, or -1. */
  private newAddress(from: number): number {
    // (A target inside the current record moves with it: the map gives that too, but slower.)
    const to =
      from >= this.recOld && from < this.recEnd ? this.recNew + (from - this.recOld) : this.map.toNew(from);
    if (to < 0) return -1;
    const dst = this.dstEntry as TransformEntry;
    if (to < dst.start || to >= dst.start + dst.length) return -1;
    return this.addressInResult(to);
  }

  /** The result region found last (references of one record mostly land in one region). */
  private lastRegion: Region | undefined;

  /** Address of result offset `pos` in a mapped region of the current result entry, or -1. */
  private addressInResult(pos: number): number {
    let r = this.lastRegion;
    if (r === undefined || pos < r.start || pos >= r.start + r.length) {
      r = regionAt((this.dstEntry as TransformEntry).regions, pos);
      if (r === undefined) return -1;
      this.lastRegion = r;
    }
    return isMapped(r) ? r.vaddr + (pos - r.start) : -1;
  }

  private predictRel(
    buf: Uint8Array,
    at: number,
    pos: number,
    end: number,
    src: TransformEntry,
    r: Region,
    p: number,
    rel: number,
  ): void {
    if (r.bits !== 1) return;
    const from = offsetOf(this.addrIndex(src), r.vaddr + (p + 4 - r.start) + rel);
    // A target in the same record and region moved with the reference: left as it is (most jumps).
    if (from < 0) return;
    if (from >= this.recOld && from < this.recEnd && from >= r.start && from < r.start + r.length) return;
    const target = this.newAddress(from);
    if (target < 0) return;
    const np = this.recNew + (p - this.recOld);
    const here = this.addressInResult(np);
    if (here < 0) return;
    const v = target - (here + 4);
    if (v < -2147483648 || v > 2147483647 || v === rel) return;
    this.put(buf, at, pos, end, p, v >>> 0, 0, 4);
  }

  /**
   * A symbol's name, an offset into the string table `r.vaddr` bytes after the source entry's
   * start: mapped to the result, where it must land in the result entry and the symbol in a
   * symbol table region of it, whose string table gives the new offset.
   */
  private predictName(
    buf: Uint8Array,
    at: number,
    pos: number,
    end: number,
    src: TransformEntry,
    r: Region,
    p: number,
    name: number,
  ): void {
    const from = src.start + r.vaddr + name;
    if (from >= src.start + src.length) return;
    const to =
      from >= this.recOld && from < this.recEnd ? this.recNew + (from - this.recOld) : this.map.toNew(from);
    const dst = this.dstEntry as TransformEntry;
    if (to < dst.start || to >= dst.start + dst.length) return;
    const np = this.recNew + (p - this.recOld);
    let dr = this.lastRegion;
    if (dr === undefined || np < dr.start || np >= dr.start + dr.length) {
      dr = regionAt(dst.regions, np);
      if (dr === undefined) return;
      this.lastRegion = dr;
    }
    if (dr.kind !== KIND_REF_SYMTAB) return;
    const v = to - (dst.start + dr.vaddr);
    if (v < 0 || v >= TWO32 || v === name) return;
    this.put(buf, at, pos, end, p, v, 0, 4);
  }

  private predictAbs(
    buf: Uint8Array,
    at: number,
    pos: number,
    end: number,
    src: TransformEntry,
    p: number,
    value: number,
  ): void {
    const target = this.mapAddress(src, value);
    if (target < 0 || target === value) return;
    this.put(buf, at, pos, end, p, target % TWO32, Math.floor(target / TWO32), 8);
  }

  /** Writes the `n` (4 or 8) little-endian bytes of lo + hi * 2^32 at old offset p (past `end`: later). */
  private put(
    buf: Uint8Array,
    at: number,
    pos: number,
    end: number,
    p: number,
    lo: number,
    hi: number,
    n: number,
  ): void {
    this.predicted++;
    const i = at + p - pos;
    if (p + n <= end) {
      buf[i] = lo & 255;
      buf[i + 1] = (lo >>> 8) & 255;
      buf[i + 2] = (lo >>> 16) & 255;
      buf[i + 3] = lo >>> 24;
      if (n === 8) {
        buf[i + 4] = hi & 255;
        buf[i + 5] = (hi >>> 8) & 255;
        buf[i + 6] = (hi >>> 16) & 255;
        buf[i + 7] = hi >>> 24;
      }
      return;
    }
    for (let k = 0; k < n; k++) {
      const v = (k < 4 ? lo >>> (8 * k) : hi >>> (8 * (k - 4))) & 255;
      if (p + k < end) buf[i + k] = v;
      else {
        this.pendingPos.push(p + k);
        this.pendingVal.push(v);
      }
    }
  }
}
