import { codeRegions, refRegions, unwindTables, type CodeRegion, type RefRegion } from './exe-regions.js';
import {
  KIND_ARM64,
  KIND_DELTA,
  KIND_X86,
  KIND_X86_RIP,
  transformInPlace,
  type Region,
} from './exe-transform.js';
import { matchArchives } from './matcher.js';
import { KIND_PAGE_HASH } from './page-hash.js';
import { StreamWriter, type StreamCompression } from './stream-writer.js';
import { tarEntries } from './tar-entries.js';
import { MAX_REGIONS, type TransformEntry, type TransformTable } from './transform-table.js';

/**
 * Chooses, per tar entry, whether and how to transform its machine code before matching. Whether a
 * transform helps depends on the code and on what changed: measured on consecutive releases
 * (docs/benchmarks.md), ARM64 branch/ADRP targets made absolute gave 17 % smaller differences, while
 * on x86-64 both call/jump targets and rip-relative operands made absolute gave larger ones (a
 * recompiled x86 function moves its calls and their targets together). So for every executable
 * that exists in both archives (same path), a sample of its code is diffed with each candidate
 * and without, and the smallest wins; the old entry of the same path gets the same transform.
 */

/** Below this size an executable is not sampled: the default for its machine is taken. */
const TRIAL_MIN = 1 << 20;
/** Sample this much of the new file's code, and twice as much around the same place of the old. */
const SAMPLE = 4 << 20;
/** A candidate must beat plain bytes by this fraction to be taken (the table costs bytes too). */
const MIN_GAIN = 0.02;

const QUICK: StreamCompression = {
  strong: { quality: 5, lgwin: 20 },
  fast: { quality: 5, lgwin: 20 },
  bufferUpTo: 64 << 20,
};

function candidatesFor(kind: number): number[] {
  return kind === KIND_ARM64 ? [KIND_ARM64] : [KIND_X86, KIND_X86_RIP];
}

/** Default when not sampled: what helped on the measured releases. */
function defaultKind(kind: number): number {
  return kind === KIND_ARM64 ? KIND_ARM64 : 0;
}

/** Compressed size of a quick patch from `old` to `nu` (matching and brotli 5: a relative measure). */
async function quickSize(old: Buffer, nu: Buffer): Promise<number> {
  const w = new StreamWriter(old, nu, { control: QUICK, diff: QUICK, extra: QUICK });
  try {
    await matchArchives(old, nu, [], w, { step: 8 });
    const s = await w.finish();
    return [...s.control, ...s.diff, ...s.extra].reduce((n, b) => n + b.length, 0);
  } catch (error) {
    w.destroy();
    throw error;
  }
}

function largest(regions: readonly CodeRegion[]): CodeRegion | undefined {
  let best: CodeRegion | undefined;
  for (const r of regions) if (best === undefined || r.length > best.length) best = r;
  return best;
}

/** A copy of file[from, to) with `kind` applied to the part inside `r` (offsets in the file). */
function sample(file: Uint8Array, from: number, to: number, r: CodeRegion, kind: number): Buffer {
  const buf = Buffer.from(file.subarray(from, to));
  if (kind !== 0) {
    const s = Math.max(from, r.offset);
    const e = Math.min(to, r.offset + r.length);
    if (e > s) {
      transformInPlace(
        buf,
        [{ kind, start: s - from, length: e - s, vaddr: r.vaddr + (s - r.offset), bits: r.bits }],
        1,
      );
    }
  }
  return buf;
}

async function trial(
  oldFile: Uint8Array,
  oldR: CodeRegion,
  newFile: Uint8Array,
  newR: CodeRegion,
): Promise<number> {
  const half = Math.min(SAMPLE / 2, Math.floor(newR.length / 2));
  const center = newR.offset + Math.floor(newR.length / 2);
  const nFrom = center - half;
  const nTo = center + half;
  const oCenter = oldR.offset + Math.floor((center - newR.offset) * (oldR.length / newR.length));
  const oFrom = Math.max(oldR.offset, oCenter - 2 * half);
  const oTo = Math.min(oldR.offset + oldR.length, oCenter + 2 * half);
  let bestKind = 0;
  let bestSize = await quickSize(sample(oldFile, oFrom, oTo, oldR, 0), sample(newFile, nFrom, nTo, newR, 0));
  const plain = bestSize;
  for (const kind of candidatesFor(newR.kind)) {
    const size = await quickSize(
      sample(oldFile, oFrom, oTo, oldR, kind),
      sample(newFile, nFrom, nTo, newR, kind),
    );
    if (size < bestSize && size < plain * (1 - MIN_GAIN)) {
      bestSize = size;
      bestKind = kind;
    }
  }
  return bestKind;
}

function entryOf(
  start: number,
  length: number,
  regions: readonly CodeRegion[],
  kind: number,
): TransformEntry {
  return {
    start,
    length,
    regions: regions.map((r): Region =>
      r.kind === KIND_DELTA || r.kind === KIND_PAGE_HASH
        ? { kind: r.kind, start: start + r.offset, length: r.length, vaddr: r.vaddr, bits: r.bits }
        : {
            kind,
            start: start + r.offset,
            length: r.length,
            vaddr: r.vaddr,
            bits: kind === KIND_ARM64 ? 0 : r.bits,
          },
    ),
  };
}

/** The code regions (none when `kind` is 0) and the unwind tables that overlap none of them, sorted. */
function withTables(code: readonly CodeRegion[], kind: number, tables: readonly CodeRegion[]): CodeRegion[] {
  const kept = kind === 0 ? [] : [...code];
  for (const t of tables) {
    if (!kept.some((r) => r.offset < t.offset + t.length && t.offset < r.offset + r.length)) kept.push(t);
  }
  return kept.sort((a, b) => a.offset - b.offset);
}

function refEntryOf(start: number, length: number, regions: readonly RefRegion[]): TransformEntry {
  return {
    start,
    length,
    regions: regions.map((r): Region => ({
      kind: r.kind,
      start: start + r.offset,
      length: r.length,
      vaddr: r.vaddr,
      bits: r.bits,
    })),
  };
}

/**
 * Page hashes are transformed in the result only: there they become zeros, which match any run of
 * zeros of the source, so hashing the source's pages (a SHA-256 pass over the old executable,
 * when creating and when applying) would buy nothing.
 */
function notPageHashes(r: { kind: number }): boolean {
  return r.kind !== KIND_PAGE_HASH;
}

/** An executable in both archives whose references may be predicted (src/diff/ref-predict.ts). */
export interface RefCandidate {
  readonly source: TransformEntry;
  readonly result: TransformEntry;
}

/**
 * The transforms to apply, and the executables left as plain bytes whose references could be
 * predicted (whether that pays is decided after matching: src/diff/ref-choice.ts).
 */
export async function chooseTransforms(
  old: Uint8Array,
  nu: Uint8Array,
): Promise<TransformTable & { refs: RefCandidate[] }> {
  const refs: RefCandidate[] = [];
  const oldByPath = new Map<string, { start: number; length: number; regions: CodeRegion[] }>();
  for (const e of tarEntries(old)) {
    if (e.size < 4096) continue;
    const regions = codeRegions(old.subarray(e.dataOffset, e.dataOffset + e.size));
    if (regions.length > 0) oldByPath.set(e.path, { start: e.dataOffset, length: e.size, regions });
  }
  const source: TransformEntry[] = [];
  const result: TransformEntry[] = [];
  let count = 0;
  const used = new Set<number>();
  for (const e of tarEntries(nu)) {
    const o = oldByPath.get(e.path);
    if (o === undefined || used.has(o.start)) continue;
    const file = nu.subarray(e.dataOffset, e.dataOffset + e.size);
    const regions = codeRegions(file);
    const nr = largest(regions);
    const or = largest(o.regions);
    if (nr === undefined || or === undefined || nr.kind !== or.kind) continue;
    if (count + regions.length + o.regions.length > MAX_REGIONS) continue;
    // 64-bit x86 executables: reference prediction instead of a transform. Measured on three
    // x86-64 pairs (gcc ELF, lld/Rust PIE ELF, MSVC PE; docs/benchmarks.md) it gave 14-24 %
    // smaller patches than the best transform or plain bytes. arm64 executables (ELF, Mach-O):
    // prediction on top of the ARM64 transform (kind 8). Whether it pays is decided after
    // matching (src/diff/ref-choice.ts); when it does not, x86 stays plain and arm64 transformed.
    const oldRefs = refRegions(old.subarray(o.start, o.start + o.length)).filter(notPageHashes);
    const newRefs = refRegions(file);
    if (oldRefs.length > 0 && newRefs.length > 0) {
      if (count + oldRefs.length + newRefs.length > MAX_REGIONS) continue;
      used.add(o.start);
      count += oldRefs.length + newRefs.length;
      refs.push({
        source: refEntryOf(o.start, o.length, oldRefs),
        result: refEntryOf(e.dataOffset, e.size, newRefs),
      });
      continue;
    }
    let kind = defaultKind(nr.kind);
    if (e.size >= TRIAL_MIN && nr.length >= 64 << 10) {
      kind = await trial(old.subarray(o.start, o.start + o.length), or, file, nr);
    }
    // The sorted unwind table (.eh_frame_hdr) is transformed too, with or without the code.
    const oldTables = unwindTables(old.subarray(o.start, o.start + o.length)).filter(notPageHashes);
    const newTables = unwindTables(file);
    const both = oldTables.length > 0 && newTables.length > 0;
    const oldRegions = withTables(o.regions, kind, both ? oldTables : []);
    const newRegions = withTables(regions, kind, both ? newTables : []);
    if (oldRegions.length === 0 || newRegions.length === 0) continue;
    if (count + oldRegions.length + newRegions.length > MAX_REGIONS) continue;
    used.add(o.start);
    count += oldRegions.length + newRegions.length;
    source.push(entryOf(o.start, o.length, oldRegions, kind));
    result.push(entryOf(e.dataOffset, e.size, newRegions, kind));
  }
  source.sort((a, b) => a.start - b.start);
  return { source, result, refs };
}
