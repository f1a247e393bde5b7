import type { MatchSink } from './matcher.js';
import { EquivalenceMap, Predictor, SegmentList } from './ref-predict.js';
import type { RefCandidate } from './transform-choice.js';
import type { TransformEntry } from './transform-table.js';

/**
 * The creator's side of reference prediction: the matcher's output is recorded first (the
 * prediction of a reference needs the match of its target, which may come later), then replayed
 * into the stream writer. Whether prediction pays is decided per executable from that recording.
 */

/** Records the matcher's runs: (new start, length, old start or -1 for an insert). */
export class MatchRecorder implements MatchSink {
  private buf = new Float64Array(3 << 12);
  count = 0;
  readonly pressure = false;

  private push(a: number, b: number, c: number): void {
    if (this.count * 3 === this.buf.length) {
      const grown = new Float64Array(this.buf.length * 2);
      grown.set(this.buf);
      this.buf = grown;
    }
    const k = this.count++ * 3;
    this.buf[k] = a;
    this.buf[k + 1] = b;
    this.buf[k + 2] = c;
  }

  aligned(start: number, length: number, oldStart: number): void {
    if (length > 0) this.push(start, length, oldStart);
  }

  insert(start: number, length: number): void {
    if (length > 0) this.push(start, length, -1);
  }

  async flush(): Promise<void> {}

  /** Calls `f` for each run in order. */
  forEach(f: (start: number, length: number, oldStart: number) => void): void {
    for (let k = 0; k < this.count * 3; k += 3) {
      f(this.buf[k] as number, this.buf[k + 1] as number, this.buf[k + 2] as number);
    }
  }

  /** Hands the runs to `sink` as the matcher would have. */
  async replay(sink: MatchSink): Promise<void> {
    for (let k = 0; k < this.count * 3; k += 3) {
      const start = this.buf[k] as number;
      const length = this.buf[k + 1] as number;
      const oldStart = this.buf[k + 2] as number;
      if (oldStart < 0) sink.insert(start, length);
      else sink.aligned(start, length, oldStart);
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
