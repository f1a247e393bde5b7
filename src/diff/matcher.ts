import type { Hint } from './entry-hints.js';
import { matchLength } from './match-length.js';

/**
 * The byte matcher: finds, for the new archive, regions that come from the old one, and hands
 * them to a sink as "aligned" runs (new bytes produced from old bytes at a fixed offset, allowing
 * byte differences) and "insert" runs (new bytes stored as they are).
 *
 * How: every STEP-th window of WINDOW bytes of the old archive goes into a direct-mapped hash table;
 * a rolling hash over the new archive finds seeds (exact matches of at least WINDOW bytes), which are
 * extended exactly both ways. The gaps between two seeds are covered bsdiff-style: the previous
 * alignment is extended forward and the next one backward as long as more than half of the bytes
 * agree (so an executable whose pointers shifted costs a few difference bytes, mostly zeros), and
 * what is left is inserted. A seed at a new offset is only taken when it beats the current
 * alignment by MIN_GAIN bytes, so noise does not fragment a good alignment.
 */
export interface MatchSink {
  /** new[start, start + length) comes from old[oldStart, oldStart + length) plus differences. */
  aligned(start: number, length: number, oldStart: number): void;
  /** new[start, start + length) is stored as is. */
  insert(start: number, length: number): void;
  /** True when buffered output should be handed on (then the matcher awaits flush()). */
  readonly pressure: boolean;
  flush(): Promise<void>;
}

export const WINDOW = 16;
const B = 0x01000193; // odd multiplier of the rolling polynomial hash (mod 2^32)
const MIX = 0x9e3779b1; // golden-ratio multiplier: the slot is the top bits of hash * MIX
const MIN_GAIN = 8;
/** Gaps up to this size between two seeds of the same alignment are taken whole as differences. */
const SMALL_GAP = 32;
/** Stop an approximate extension once it is this far below its best score. */
const GIVE_UP = 4096;
const MAX_TABLE_BITS = 28;
/** Slots per bucket of the hash table: a few candidates per hash, the longest match wins. */
const BUCKET = 2;

/** B^(WINDOW-1) mod 2^32, to remove the outgoing byte of the rolling hash. */
const B_OUT = (() => {
  let p = 1;
  for (let k = 0; k < WINDOW - 1; k++) p = Math.imul(p, B);
  return p;
})();

function hashAt(buf: Buffer, pos: number): number {
  let h = 0;
  for (let k = 0; k < WINDOW; k++) h = (Math.imul(h, B) + (buf[pos + k] as number)) | 0;
  return h;
}

export interface OldIndex {
  /**
   * Each slot: (sample number + 1) << checkBits | the low checkBits bits of the window's hash; 0 for
   * an empty slot. A window whose check bits differ cannot match, and they rule most candidates
   * out without reading the old archive at the sample, a random memory access. Packing them into
   * the slot (rather than a byte array beside it) saves a byte per slot, 8 MB for a 100 MB archive.
   */
  readonly table: Uint32Array;
  /** Bits of each slot taken by the check: up to 8, fewer when the sample numbers need them. */
  readonly checkBits: number;
  readonly shift: number;
  readonly step: number;
  /** Start of the longest run of zero bytes in old (-1 if none as long as a window). */
  readonly zeroRun: number;
}

/** Check bits left beside sample numbers up to `samples` in a 32-bit slot (at most 8). */
export function checkBitsFor(samples: number): number {
  const sampleBits = Math.ceil(Math.log2(samples + 1));
  return Math.max(0, Math.min(8, 32 - sampleBits));
}

/** Indexes every `step`-th window of `old`. Memory: 4 bytes per slot, 1 to 2 slots per sample. */
export function indexOld(old: Buffer, step: number): OldIndex {
  const samples = old.length >= WINDOW ? Math.floor((old.length - WINDOW) / step) + 1 : 0;
  const bits = Math.min(MAX_TABLE_BITS, Math.max(10, Math.floor(Math.log2(samples + 1))));
  const table = new Uint32Array(2 ** bits);
  const checkBits = checkBitsFor(samples);
  const checkMask = (1 << checkBits) - 1;
  const shift = 32 - bits;
  if (samples === 0) return { table, checkBits, shift, step, zeroRun: -1 };
  // Zero windows (tar padding, executables' alignment gaps) are not put in the table: their first
  // occurrence is usually a short run (a tar header's name field), which would give a string of
  // short copies. The matcher uses the longest run of zero windows instead.
  let zeroRun = -1;
  let zeroRunLength = 0;
  let runStart = -1;
  for (let p = 0, q = 0; q < samples; p += step, q++) {
    // The window's hash computed directly (only every step-th position is needed here).
    let h = 0;
    for (let k = 0; k < WINDOW; k++) h = (Math.imul(h, B) + (old[p + k] as number)) | 0;
    if (h === 0 && old[p] === 0 && old[p + WINDOW - 1] === 0) {
      if (runStart < 0) runStart = p;
      if (p + WINDOW - runStart > zeroRunLength) {
        zeroRun = runStart;
        zeroRunLength = p + WINDOW - runStart;
      }
      continue;
    }
    runStart = -1;
    // A bucket of BUCKET slots; the first occurrences win (repeated data: any copy is as good).
    const base = (Math.imul(h, MIX) >>> shift) & ~(BUCKET - 1);
    for (let k = base; k < base + BUCKET; k++) {
      if (table[k] === 0) {
        table[k] = ((q + 1) * 2 ** checkBits + (h & checkMask)) >>> 0;
        break;
      }
    }
  }
  return { table, checkBits, shift, step, zeroRun: zeroRunLength >= WINDOW ? zeroRun : -1 };
}

/**
 * Whether some window of `sample` is a seed: in the index, with the same bytes in `old` (or a zero
 * window where old has its longest zero run). What the matcher needs to align anything there.
 */
export function anySeed(index: OldIndex, old: Buffer, sample: Buffer): boolean {
  const { table, checkBits, shift, step, zeroRun } = index;
  if (sample.length < WINDOW) return false;
  const checkMask = (1 << checkBits) - 1;
  let h = hashAt(sample, 0);
  for (let i = 0; ; i++) {
    if (h === 0 && zeroRun >= 0 && matchLength(sample, i, old, zeroRun, WINDOW) === WINDOW) return true;
    const base = (Math.imul(h, MIX) >>> shift) & ~(BUCKET - 1);
    for (let k = base; k < base + BUCKET; k++) {
      const slot = table[k] as number;
      if ((slot & checkMask) !== (h & checkMask)) continue;
      const cand = slot >>> checkBits;
      if (cand === 0) break;
      const o = (cand - 1) * step;
      if (o + WINDOW <= old.length && matchLength(sample, i, old, o, WINDOW) === WINDOW) return true;
    }
    if (i + WINDOW >= sample.length) return false;
    h = (Math.imul(h - Math.imul(sample[i] as number, B_OUT), B) + (sample[i + WINDOW] as number)) | 0;
  }
}

/** Best length (0..max) to extend alignment `off` forward from `start`: maximises matches - mismatches. */
function extendForward(nu: Buffer, old: Buffer, start: number, max: number, off: number): number {
  const limit = Math.min(max, old.length - (start + off));
  let score = 0;
  let best = 0;
  let bestLen = 0;
  for (let k = 0; k < limit; k++) {
    score += nu[start + k] === old[start + off + k] ? 1 : -1;
    if (score > best) {
      best = score;
      bestLen = k + 1;
    } else if (best - score > GIVE_UP) break;
  }
  return bestLen;
}

/** Same, backward from `end` (exclusive). */
function extendBackward(nu: Buffer, old: Buffer, end: number, max: number, off: number): number {
  const limit = Math.min(max, end + off);
  let score = 0;
  let best = 0;
  let bestLen = 0;
  for (let k = 1; k <= limit; k++) {
    score += nu[end - k] === old[end - k + off] ? 1 : -1;
    if (score > best) {
      best = score;
      bestLen = k;
    } else if (best - score > GIVE_UP) break;
  }
  return bestLen;
}

/** Counts equal bytes of new[start, end) and old at `off` (bytes outside old count as unequal). */
function countEqual(nu: Buffer, old: Buffer, start: number, end: number, off: number): number {
  const from = Math.max(start, -off);
  const to = Math.min(end, old.length - off);
  let n = 0;
  for (let p = from; p < to; p++) if (nu[p] === old[p + off]) n++;
  return n;
}

export async function matchArchives(
  old: Buffer,
  nu: Buffer,
  hints: readonly Hint[],
  sink: MatchSink,
  options: { step?: number; signal?: AbortSignal; index?: OldIndex } = {},
): Promise<void> {
  // The index may come made (by indexOld with the same step): createPatch samples with it first.
  const { table, checkBits, shift, step, zeroRun } = options.index ?? indexOld(old, options.step ?? 8);
  const checkMask = (1 << checkBits) - 1;
  const n = nu.length;
  const oldLen = old.length;

  let lastEnd = 0; // new[0, lastEnd) has been handed to the sink
  let lastOff: number | undefined; // old position - new position of the current alignment
  let curCheck = 0; // first position where the current alignment can give a seed

  const resolveGap = (a: number, b: number, offB: number | undefined): void => {
    const gap = b - a;
    if (gap <= 0) return;
    const offA = lastOff;
    if (offA !== undefined && offA === offB && gap <= SMALL_GAP) {
      sink.aligned(a, gap, a + offA);
      return;
    }
    let lenf = offA === undefined ? 0 : extendForward(nu, old, a, gap, offA);
    let lenb = offB === undefined ? 0 : extendBackward(nu, old, b, gap, offB);
    if (lenf + lenb > gap && offA !== undefined && offB !== undefined) {
      // Overlap: split where the forward alignment stops being better than the backward one.
      const from = b - lenb;
      const to = a + lenf;
      let score = 0;
      let best = 0;
      let split = from;
      for (let p = from; p < to; p++) {
        if (nu[p] === old[p + offA]) score++;
        if (nu[p] === old[p + offB]) score--;
        if (score > best) {
          best = score;
          split = p + 1;
        }
      }
      lenf = split - a;
      lenb = b - split;
    }
    if (lenf > 0 && offA !== undefined) sink.aligned(a, lenf, a + offA);
    if (gap - lenf - lenb > 0) sink.insert(a + lenf, gap - lenf - lenb);
    if (lenb > 0 && offB !== undefined) sink.aligned(b - lenb, lenb, b - lenb + offB);
  };

  /** Takes the exact match new[s, e) at `off` after covering the gap before it. */
  const take = (s: number, e: number, off: number): void => {
    resolveGap(lastEnd, s, off);
    if (e > s) sink.aligned(s, e - s, s + off);
    lastEnd = e;
    lastOff = off;
    curCheck = e + 1;
  };

  let hi = 0;
  let i = 0;
  let hashPos = -2;
  let h = 0;
  let sinceCheck = 0;
  let lastYield = performance.now();
  while (i < n) {
    const hint = hints[hi];
    const limit = hint === undefined ? n : Math.min(n, Math.max(hint.newStart, i));
    const scanEnd = Math.min(limit, n - WINDOW + 1);
    while (i < scanEnd) {
      // Fast path: skip positions where neither the current alignment nor a table candidate can
      // give a seed (what the full check below would conclude), keeping the rolling hash. New
      // bytes that match nothing (incompressible new files) cost a few operations per byte.
      if (hashPos === i - 1) {
        const off = lastOff ?? 0;
        const hasOff = lastOff !== undefined;
        while (i < scanEnd) {
          if (hasOff && i >= curCheck) {
            const o = i + off;
            if (o >= 0 && o + WINDOW <= oldLen && old[o] === nu[i]) break;
          }
          const hi =
            (Math.imul(h - Math.imul(nu[i - 1] as number, B_OUT), B) + (nu[i + WINDOW - 1] as number)) | 0;
          if (hi === 0) break;
          const base = (Math.imul(hi, MIX) >>> shift) & ~(BUCKET - 1);
          let maybe = false;
          const low = hi & checkMask;
          for (let k = base; k < base + BUCKET; k++) {
            const slot = table[k] as number;
            if ((slot & checkMask) !== low) continue; // another window (or an empty slot)
            const cand = slot >>> checkBits;
            if (cand === 0) break;
            const o = (cand - 1) * step;
            if (old[o] === nu[i] && old[o + 1] === nu[i + 1]) {
              maybe = true;
              break;
            }
          }
          if (maybe) break;
          h = hi;
          hashPos = i;
          i++;
        }
        if (i >= scanEnd) break;
      }
      let seedOld = -1;
      if (lastOff !== undefined && i >= curCheck) {
        const o = i + lastOff;
        if (o >= 0 && o + WINDOW <= oldLen) {
          const k = matchLength(nu, i, old, o, WINDOW);
          if (k === WINDOW) seedOld = o;
          else curCheck = i + k + 1;
        }
      }
      const sameAlignment = seedOld >= 0;
      if (!sameAlignment) {
        if (hashPos === i - 1) {
          h = (Math.imul(h - Math.imul(nu[i - 1] as number, B_OUT), B) + (nu[i + WINDOW - 1] as number)) | 0;
        } else {
          h = hashAt(nu, i);
        }
        hashPos = i;
        let zeroLen = 0;
        if (h === 0 && zeroRun >= 0 && zeroRun !== i + (lastOff ?? NaN)) {
          // Possibly a zero window: the longest zero run of old is the best source for it.
          zeroLen = matchLength(nu, i, old, zeroRun, Math.min(n - i, oldLen - zeroRun));
          if (zeroLen >= WINDOW) seedOld = zeroRun;
        }
        const base = (Math.imul(h, MIX) >>> shift) & ~(BUCKET - 1);
        let bestLen = seedOld >= 0 ? zeroLen : WINDOW - 1;
        for (let k = base; k < base + BUCKET; k++) {
          const cand = (table[k] as number) >>> checkBits;
          if (cand === 0) break;
          const o = (cand - 1) * step;
          // Cheap rejection first: most candidates in changed regions differ at once.
          if (old[o] !== nu[i] || old[o + 1] !== nu[i + 1]) continue;
          if (o === i + (lastOff ?? NaN) || o + WINDOW > oldLen) continue;
          const len = matchLength(nu, i, old, o, Math.min(n - i, oldLen - o));
          if (len > bestLen) {
            bestLen = len;
            seedOld = o;
          }
        }
      }
      if (seedOld < 0) {
        i++;
        continue;
      }
      const off = seedOld - i;
      const fwd = matchLength(nu, i, old, seedOld, Math.min(n - i, oldLen - seedOld));
      let back = 0;
      while (i - back > lastEnd && seedOld - back > 0 && nu[i - back - 1] === old[seedOld - back - 1]) back++;
      const s = i - back;
      const e = i + fwd;
      if (!sameAlignment && lastOff !== undefined) {
        // Only leave the current alignment for a clearly better one.
        const current = countEqual(nu, old, s, e, lastOff);
        if (e - s < current + MIN_GAIN) {
          i = Math.max(i + 1, e - WINDOW);
          continue;
        }
      }
      take(s, e, off);
      i = e;
      if (sink.pressure) await sink.flush();
      if (++sinceCheck >= 1024) {
        sinceCheck = 0;
        options.signal?.throwIfAborted();
        // Let zlib's callbacks run now and then, so compression keeps pace on the thread pool.
        if (performance.now() - lastYield > 20) {
          await new Promise((resolve) => setImmediate(resolve));
          lastYield = performance.now();
        }
      }
    }
    if (i < limit) i = limit; // the tail shorter than a window: no seeds there
    if (hint === undefined || i >= n) break;
    hi++;
    const off = hint.oldStart - hint.newStart;
    const hintEnd = hint.newStart + hint.length;
    if (hint.kind === 'copy') {
      if (hintEnd > lastEnd) take(Math.max(hint.newStart, lastEnd), hintEnd, off);
      i = Math.max(i, lastEnd);
    } else if (lastEnd <= hint.newStart) {
      // A changed entry with an old entry of the same path: start from that alignment.
      take(hint.newStart, hint.newStart, off);
      curCheck = hint.newStart;
    }
    if (sink.pressure) await sink.flush();
    options.signal?.throwIfAborted();
  }
  resolveGap(lastEnd, n, undefined);
}
