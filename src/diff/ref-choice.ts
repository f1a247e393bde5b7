import type { MatchSink } from './matcher.js';
import { EquivalenceMap, Predictor, SegmentList } from './ref-predict.js';
import type { RefCandidate } from './transform-choice.js';
import type { TransformEntry } from './transform-table.js';

/**
 * The creator's side of reference prediction: the matcher's output is recorded first (the
 * prediction of a reference needs the match of its target, which may come later), then replayed
 * into the stream writer. Whether prediction pays is decided per executable from that recording.
 */

/** Runs per chunk of the recording (two 32-bit words each: 512 KB per chunk). */
const RUNS_PER_CHUNK = 1 << 16;
/** Longest run one record holds: the top bit of its length word marks an insert. */
const MAX_RUN = 2 ** 31 - 1;
const INSERT_BIT = 2 ** 31;

/**
 * Records the matcher's runs: (length, old start) of each, an insert marked in the length word.
 * The runs cover the new archive in order (as the patch format needs), so their new starts are
 * not stored. 8 bytes per run in fixed chunks (2.5 million runs for a 100 MB executable: 20 MB,
 * where a growing array of three doubles per run held 100 MB and copied itself as it grew).
 */
export class MatchRecorder implements MatchSink {
  private readonly chunks: Uint32Array[] = [];
  private end = 0;
  count = 0;
  readonly pressure = false;

  private push(start: number, length: number, oldStart: number): void {
    if (start !== this.end) throw new Error(`matcher runs out of order at ${start} (expected ${this.end})`);
    for (let done = 0; done < length;) {
      const n = Math.min(MAX_RUN, length - done);
      const at = (this.count % RUNS_PER_CHUNK) * 2;
      if (at === 0) this.chunks.push(new Uint32Array(RUNS_PER_CHUNK * 2));
      const chunk = this.chunks[this.chunks.length - 1] as Uint32Array;
      chunk[at] = oldStart < 0 ? n + INSERT_BIT : n;
      chunk[at + 1] = oldStart < 0 ? 0 : oldStart + done;
      this.count++;
      done += n;
    }
    this.end = start + length;
  }

  aligned(start: number, length: number, oldStart: number): void {
    if (length > 0) this.push(start, length, oldStart);
  }

  insert(start: number, length: number): void {
    if (length > 0) this.push(start, length, -1);
  }

  async flush(): Promise<void> {}

  /** Calls `f` for each run in order (old start -1 for an insert). */
  forEach(f: (start: number, length: number, oldStart: number) => void): void {
    let start = 0;
    for (let r = 0; r < this.count; r++) {
      const chunk = this.chunks[Math.floor(r / RUNS_PER_CHUNK)] as Uint32Array;
      const at = (r % RUNS_PER_CHUNK) * 2;
      const word = chunk[at] as number;
      const length = word >= INSERT_BIT ? word - INSERT_BIT : word;
      f(start, length, word >= INSERT_BIT ? -1 : (chunk[at + 1] as number));
      start += length;
    }
  }

  /** Hands the runs to `sink` as the matcher would have. */
  async replay(sink: MatchSink): Promise<void> {
    let start = 0;
    for (let r = 0; r < this.count; r++) {
      const chunk = this.chunks[Math.floor(r / RUNS_PER_CHUNK)] as Uint32Array;
      const at = (r % RUNS_PER_CHUNK) * 2;
      const word = chunk[at] as number;
      if (word >= INSERT_BIT) {
        sink.insert(start, word - INSERT_BIT);
        start += word - INSERT_BIT;
      } else {
        sink.aligned(start, word, chunk[at + 1] as number);
        start += word;
      }
      if (sink.pressure) await sink.flush();
    }
  }
}

/** The matched runs that touch the old entries, as the applier will read them from the control stream. */
export function segmentsOf(rec: MatchRecorder, oldEntries: readonly TransformEntry[]): SegmentList {
  const s = new SegmentList([...oldEntries].sort((a, b) => a.start - b.start));
  rec.forEach((start, length, oldStart) => {
    if (oldStart < 0) s.end();
    else s.add(start, oldStart, length);
  });
  s.end();
  return s;
}

/** A candidate is taken when prediction leaves at most this fraction of its differing bytes. */
const KEEP = 0.97;
const SLICE = 256 << 10;

/**
 * The candidates whose references are worth predicting: for each, the differing bytes of its
 * matched runs with and without prediction are counted (differing bytes are what the difference
 * stream pays for; a wrong prediction turns an equal byte into a differing one).
 */
export function chooseRefs(
  old: Buffer,
  nu: Buffer,
  rec: MatchRecorder,
  candidates: readonly RefCandidate[],
): RefCandidate[] {
  if (candidates.length === 0) return [];
  const source = candidates.map((c) => c.source).sort((a, b) => a.start - b.start);
  const result = candidates.map((c) => c.result).sort((a, b) => a.start - b.start);
  const segments = segmentsOf(rec, source);
  if (segments.overflow) return [];
  const predictor = new Predictor(source, result, new EquivalenceMap(segments));
  const plain = new Map<TransformEntry, number>();
  const predicted = new Map<TransformEntry, number>();
  const scratch = Buffer.allocUnsafe(SLICE);
  rec.forEach((start, length, oldStart) => {
    if (oldStart < 0) return;
    const e = result.find((r) => start < r.start + r.length && start + length > r.start);
    if (e === undefined) return;
    predictor.begin(oldStart, start, length);
    let a = 0;
    let b = 0;
    for (let p = 0; p < length; p += SLICE) {
      const n = Math.min(SLICE, length - p);
      const o = oldStart + p;
      old.copy(scratch, 0, o, o + n);
      predictor.piece(scratch, 0, o, n, old.subarray(o + n, Math.min(oldStart + length, o + n + 8)));
      for (let k = 0; k < n; k++) {
        const x = nu[start + p + k];
        if (x !== old[o + k]) a++;
        if (x !== scratch[k]) b++;
      }
    }
    plain.set(e, (plain.get(e) ?? 0) + a);
    predicted.set(e, (predicted.get(e) ?? 0) + b);
  });
  return candidates.filter((c) => (predicted.get(c.result) ?? 0) < (plain.get(c.result) ?? 0) * KEEP);
}
