import { KIND_PAGE_HASH, PageHashes } from './page-hash.js';

/**
 * Reversible machine-code transforms applied before matching (format notsotuf-diff-2, see
 * docs/patch-format.md). A recompiled executable whose code moved has every relative branch after
 * the move changed; turning the branch targets into absolute addresses makes the unchanged calls
 * equal again, so the differences shrink to the bytes that really changed (the idea of the BCJ
 * filters of xz and 7-Zip and of Courgette/Zucchini; the code here is our own).
 *
 * A region is a run of bytes of an archive (inside one tar entry) holding code, with the virtual
 * address of its first byte. Each kind is a bijection on the region's bytes, undone by running it
 * with the opposite direction:
 *
 * - `X86` (x86 and x86-64): scanning forward, an E8 (call) or E9 (jmp) byte followed by a 32-bit
 *   operand, or 0F 80..8F (jcc rel32), has the operand `rel` replaced by `rel + address of the next
 *   instruction` when the operand's top `32 - bits` bits are all zeros or all ones (a plausible
 *   displacement), computed modulo 2^bits and sign-extended, so the converted value passes the same
 *   test and the decoder makes the same choices. Operands that fail the test are left alone. Either
 *   way the scan skips the operand (a conversion inside it would change what the decoder reads at
 *   the opcode); elsewhere it moves on by one byte. Opcode bytes are never changed, so encoder and
 *   decoder visit the same positions and make the same choices.
 * - `X86_RIP`: the same for rip-relative memory operands (`[REX] op modrm disp32` and
 *   `[REX] 0F op modrm disp32` with mod 00, r/m 101, for opcodes that take no immediate).
 * - `ARM64`: every 4-byte aligned (by address) instruction word: BL has its 26-bit word offset made
 *   absolute (modulo 2^26), ADRP its 21-bit page offset (modulo 2^21). Each word is independent.
 * - `DELTA` (6): a sorted table of records of `bits` little-endian 32-bit words (1..3), such as the
 *   binary-search table of an ELF `.eh_frame_hdr` (pairs of function and FDE offsets) or the
 *   RUNTIME_FUNCTION entries of a PE `.pdata`: each word of a record after the first gets the same
 *   word of the previous record (its original value) subtracted, modulo 2^32. When a function is
 *   inserted or grows, every later entry of such a table changes; the differences (function and
 *   FDE sizes) stay equal for each function that did not change. A last partial record is left alone.
 */
export const KIND_X86 = 1;
export const KIND_ARM64 = 2;
export const KIND_X86_RIP = 3;
export const KIND_DELTA = 6;
/**
 * arm64 code whose references are predicted (src/diff/ref-predict.ts): transformed as ARM64 too,
 * so its BL and ADRP words are absolute both when matched and when predicted.
 */
export const KIND_REF_ARM64 = 8;
export const KINDS = [KIND_X86, KIND_ARM64, KIND_X86_RIP, KIND_DELTA] as const;
/** Most 32-bit words in a record of a DELTA region (a record held back between chunks fits in 2 x MAX_INSN). */
export const MAX_DELTA_WORDS = 3;

/** The longest instruction a coder looks at (a coder never changes bytes past a region's end). */
export const MAX_INSN = 8;

export interface Region {
  readonly kind: number;
  /** Archive offset of the first byte, and length. */
  readonly start: number;
  readonly length: number;
  /** Virtual address of the first byte (what the code's displacements are relative to). */
  readonly vaddr: number;
  /** X86: width of the displacements converted (20..32); ARM64: unused (0); DELTA: words per record. */
  readonly bits: number;
  /** PAGE_HASH (kind 9): archive offset of the first hashed byte (its entry's start); `vaddr` is how many bytes are hashed, `bits` the page size (log2). */
  readonly base?: number;
}

/** One-byte opcodes with a modrm operand and no immediate (mov, lea, add, cmp, test, call/jmp [m], ...). */
export const RIP_OP1 = new Uint8Array(256);
for (const op of [
  0x01, 0x03, 0x09, 0x0b, 0x11, 0x13, 0x19, 0x1b, 0x21, 0x23, 0x29, 0x2b, 0x31, 0x33, 0x39, 0x3b, 0x63, 0x84,
  0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8d, 0xff,
])
  RIP_OP1[op] = 1;
/** Two-byte opcodes (after 0F) of the same shape (movzx/movsx, SSE moves and arithmetic, imul, cmov). */
export const RIP_OP2 = new Uint8Array(256);
for (const op of [
  0x10, 0x11, 0x12, 0x13, 0x16, 0x17, 0x28, 0x29, 0x2e, 0x2f, 0x51, 0x54, 0x57, 0x58, 0x59, 0x5c, 0x5e, 0x6f,
  0x7f, 0xaf, 0xb6, 0xb7, 0xbe, 0xbf,
])
  RIP_OP2[op] = 1;
for (let op = 0x40; op <= 0x4f; op++) RIP_OP2[op] = 1;
/** ModRM bytes with mod 00 and r/m 101: a rip-relative operand. */
const RIP_MODRM = new Uint8Array(256);
for (let m = 0; m < 256; m++) if ((m & 0xc7) === 0x05) RIP_MODRM[m] = 1;

/**
 * For X86_RIP: the first position at or after `p` (and before `lim`) that can start a rip-relative
 * instruction. Its ModRM byte is 1 to 3 bytes after the opcode's first byte, so a position with
 * no rip ModRM byte among the next three is passed over (one table look-up per byte: most bytes
 * of code are not such a ModRM). Positions below `lim` have all the bytes they need in `buf`.
 */
function nextRipCandidate(buf: Uint8Array, bufPos: number, p: number, lim: number): number {
  let j = p - bufPos + 1;
  const jEnd = lim - bufPos + 2; // the last position below lim looks up to lim + 2
  while (j <= jEnd && RIP_MODRM[buf[j] as number] === 0) j++;
  return Math.max(p, Math.min(j - 3 + bufPos, lim));
}

/** Direction: +1 encodes (relative to absolute), -1 decodes. */
export type Direction = 1 | -1;

/** Low 32 bits of an address given as a number (exact up to 2^53). */
function low32(n: number): number {
  return (n % 4294967296) >>> 0;
}

/**
 * Runs the x86 coder over buf[from, to) where buf[0] is archive offset `bufPos`, for region `r`
 * (to is clamped to the region's end). Returns the archive offset where scanning must resume:
 * > to when an operand was skipped past `to`; at most `to` when an instruction starting before
 * `to` did not fit in the buffer (the caller passes it again with more bytes after it).
 */
function x86(
  buf: Uint8Array,
  bufPos: number,
  from: number,
  to: number,
  r: Region,
  dir: Direction,
  bufEnd: number,
): number {
  const regionEnd = r.start + r.length;
  const bits = r.bits;
  const rip = r.kind === KIND_X86_RIP;
  const span = bits >= 32 ? 4294967296 : 2 ** bits;
  const half = span / 2;
  // Bits (bits - 1)..31 must be all 0 or all 1: the operand is a `bits`-wide signed value.
  const hiMask = bits >= 32 ? 0 : ~(half - 1) >>> 0;
  const base = low32(r.vaddr - r.start); // address = archive offset + base (mod 2^32)
  let p = from;
  // Positions p whose instruction could reach past the buffer are left for the next call.
  while (p < to) {
    const i = p - bufPos;
    const b = buf[i] as number;
    let opLen = 0;
    if (!rip && (b === 0xe8 || b === 0xe9)) opLen = 1;
    else if (!rip && b === 0x0f && p + 1 < regionEnd) {
      if (p + 1 >= bufEnd) return p; // decide with the next byte, whatever the chunking
      const c = buf[i + 1] as number;
      if (c >= 0x80 && c <= 0x8f) opLen = 2;
    } else if (rip) {
      // rip-relative memory operands: [REX] op modrm disp32 or [REX] 0F op modrm disp32 with
      // mod = 00, r/m = 101 and no immediate after the displacement.
      const lim = Math.min(to, regionEnd - 3, bufEnd - 3);
      if (p < lim) {
        const q = nextRipCandidate(buf, bufPos, p, lim);
        if (q > p) {
          p = q;
          continue;
        }
      }
      if (p + 4 > regionEnd) {
        p++;
        continue;
      }
      if (p + 4 > bufEnd) return p;
      let q = i;
      if (b >= 0x40 && b <= 0x4f) q++;
      const op = buf[q] as number;
      if (op === 0x0f) {
        if (RIP_OP2[buf[q + 1] as number] === 1 && ((buf[q + 2] as number) & 0xc7) === 0x05)
          opLen = q + 3 - i;
      } else if (RIP_OP1[op] === 1 && ((buf[q + 1] as number) & 0xc7) === 0x05) opLen = q + 2 - i;
    }
    if (opLen === 0) {
      p++;
      continue;
    }
    const next = p + opLen + 4;
    if (next > regionEnd) {
      p++;
      continue;
    }
    if (next > bufEnd) return p;
    const o = i + opLen;
    const v =
      ((buf[o] as number) |
        ((buf[o + 1] as number) << 8) |
        ((buf[o + 2] as number) << 16) |
        ((buf[o + 3] as number) << 24)) >>>
      0;
    const hi = (v & hiMask) >>> 0;
    if (hi !== 0 && hi !== hiMask) {
      // Not converted, but skipped all the same: a conversion inside these operand bytes would
      // change what the decoder sees here.
      p = next;
      continue;
    }
    // v in [-half, half) as a signed value of `bits` bits; add or subtract the next address.
    const signed = v >= 2147483648 ? v - 4294967296 : v;
    const addr = low32(next + base);
    let w = (signed + dir * addr) % span;
    if (w < 0) w += span;
    if (w >= half) w -= span; // back to [-half, half)
    const out = w >>> 0;
    buf[o] = out & 255;
    buf[o + 1] = (out >>> 8) & 255;
    buf[o + 2] = (out >>> 16) & 255;
    buf[o + 3] = out >>> 24;
    p = next;
  }
  return p;
}

function arm64(
  buf: Uint8Array,
  bufPos: number,
  from: number,
  to: number,
  r: Region,
  dir: Direction,
  bufEnd: number,
): number {
  const regionEnd = r.start + r.length;
  // First aligned word at or after `from` (alignment by address).
  const mis = (((r.vaddr - r.start + from) % 4) + 4) % 4;
  let p = mis === 0 ? from : from + 4 - mis;
  while (p < to) {
    if (p + 4 > regionEnd) return to;
    if (p + 4 > bufEnd) return p;
    const i = p - bufPos;
    const w =
      ((buf[i] as number) |
        ((buf[i + 1] as number) << 8) |
        ((buf[i + 2] as number) << 16) |
        ((buf[i + 3] as number) << 24)) >>>
      0;
    let out = w;
    const addr = r.vaddr - r.start + p;
    if ((w & 0xfc000000) >>> 0 === 0x94000000) {
      // BL imm26 (words)
      const pcw = low32(Math.floor(addr / 4));
      let imm = ((w & 0x03ffffff) + dir * (pcw & 0x03ffffff)) % 0x04000000;
      if (imm < 0) imm += 0x04000000;
      out = (0x94000000 | imm) >>> 0;
    } else if ((w & 0x9f000000) >>> 0 === 0x90000000) {
      // ADRP: immlo at bits 29-30, immhi at bits 5-23; 21-bit page offset
      const imm21 = (((w >>> 5) & 0x7ffff) << 2) | ((w >>> 29) & 3);
      const page = low32(Math.floor(addr / 4096)) & 0x1fffff;
      let imm = (imm21 + dir * page) % 0x200000;
      if (imm < 0) imm += 0x200000;
      out = ((w & 0x9f00001f) | ((imm & 3) << 29) | ((imm >>> 2) << 5)) >>> 0;
    }
    if (out !== w) {
      buf[i] = out & 255;
      buf[i + 1] = (out >>> 8) & 255;
      buf[i + 2] = (out >>> 16) & 255;
      buf[i + 3] = out >>> 24;
    }
    p += 4;
  }
  return p;
}

/**
 * A streaming coder over a sorted list of non-overlapping regions of one archive. Feed it the
 * archive's bytes in order, in chunks; each call transforms what it can in place and says how many
 * bytes of the chunk are final. The rest (under MAX_INSN bytes) must be passed again at the start of
 * the next chunk (or with `last` set at the end of the archive).
 */
export class RegionCoder {
  private ri = 0;
  /** Archive offset where the current region's scan resumes. */
  private resume = -1;
  /** DELTA: the original words of the previous record of the current region. */
  private readonly prev = new Uint32Array(MAX_DELTA_WORDS);

  /**
   * The DELTA coder over buf[from, to) (as `x86`): whole records only, from the region's start;
   * returns where the next record starts (at most `to` when it does not fit in the buffer).
   */
  private delta(
    buf: Uint8Array,
    bufPos: number,
    from: number,
    to: number,
    r: Region,
    bufEnd: number,
  ): number {
    const words = r.bits;
    const size = 4 * words;
    const regionEnd = r.start + r.length;
    const mis = (from - r.start) % size;
    let p = mis === 0 ? from : from + size - mis; // (chunks end on record boundaries: mis is 0)
    const prev = this.prev;
    while (p < to) {
      if (p + size > regionEnd) return to; // a partial last record stays as it is
      if (p + size > bufEnd) return p;
      const first = p === r.start;
      for (let w = 0, i = p - bufPos; w < words; w++, i += 4) {
        const v =
          ((buf[i] as number) |
            ((buf[i + 1] as number) << 8) |
            ((buf[i + 2] as number) << 16) |
            ((buf[i + 3] as number) << 24)) >>>
          0;
        if (first) {
          prev[w] = v;
          continue;
        }
        const out = this.dir === 1 ? (v - (prev[w] as number)) >>> 0 : (v + (prev[w] as number)) >>> 0;
        prev[w] = this.dir === 1 ? v : out;
        buf[i] = out & 255;
        buf[i + 1] = (out >>> 8) & 255;
        buf[i + 2] = (out >>> 16) & 255;
        buf[i + 3] = out >>> 24;
      }
      p += size;
    }
    return p;
  }

  /** PAGE_HASH regions: the hashes of their pages, in order (their ranges do not overlap). */
  private readonly hashers: PageHashes[] = [];
  private readonly hasherOf = new Map<Region, PageHashes>();
  /** The first hasher still fed. */
  private hi = 0;

  constructor(
    private readonly regions: readonly Region[],
    private readonly dir: Direction,
  ) {
    for (const r of regions) {
      if (r.kind !== KIND_PAGE_HASH) continue;
      const h = new PageHashes(r.base ?? 0, r.vaddr, 2 ** r.bits);
      this.hashers.push(h);
      this.hasherOf.set(r, h);
    }
  }

  /** Feeds the page hashers the bytes of buf (archive bytes from `pos`) up to `upTo`, which are final. */
  private feed(buf: Uint8Array, pos: number, upTo: number): void {
    for (; this.hi < this.hashers.length; this.hi++) {
      const h = this.hashers[this.hi] as PageHashes;
      if (h.from >= upTo) return;
      h.feed(buf, pos, upTo);
      if (!h.complete) return;
    }
  }

  /** buf[0, length) holds archive bytes from offset `pos`. Returns the number of final bytes. */
  push(buf: Uint8Array, pos: number, length: number, last: boolean): number {
    if (this.hashers.length === 0) return this.code(buf, pos, length, last);
    // Pages are hashed as they were before the transform: before encoding, after decoding.
    if (this.dir === 1) this.feed(buf, pos, pos + length);
    const n = this.code(buf, pos, length, last);
    if (this.dir === -1) this.feed(buf, pos, pos + n);
    return n;
  }

  private code(buf: Uint8Array, pos: number, length: number, last: boolean): number {
    const end = pos + length;
    while (this.ri < this.regions.length) {
      const r = this.regions[this.ri] as Region;
      const rEnd = r.start + r.length;
      if (r.start >= end) return length;
      const from = Math.max(this.resume, r.start, pos);
      const to = Math.min(rEnd, end);
      if (r.kind === KIND_PAGE_HASH) {
        // The pages before the region are final: regions before it in this chunk are done.
        if (this.dir === -1) this.feed(buf, pos, Math.min(r.start, end));
        (this.hasherOf.get(r) as PageHashes).apply(buf, pos, from, to, r.start);
      }
      const at =
        r.kind === KIND_PAGE_HASH
          ? to
          : r.kind === KIND_DELTA
            ? this.delta(buf, pos, from, to, r, end)
            : (r.kind === KIND_ARM64 || r.kind === KIND_REF_ARM64 ? arm64 : x86)(
                buf,
                pos,
                from,
                to,
                r,
                this.dir,
                end,
              );
      this.resume = at;
      if (at < to) {
        // An instruction starting at `at` needs bytes of the next chunk.
        if (last) throw new Error('coder stopped before the end of the archive');
        return at - pos;
      }
      if (to === rEnd) {
        this.ri++;
        this.resume = -1;
        continue;
      }
      return length; // the region goes on past this chunk
    }
    return length;
  }
}

/** Transforms whole regions of an archive held in memory. */
export function transformInPlace(buf: Uint8Array, regions: readonly Region[], dir: Direction): void {
  new RegionCoder(regions, dir).push(buf, 0, buf.length, true);
}
