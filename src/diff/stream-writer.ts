import { once } from 'node:events';
import { brotliCompressSync, constants, createBrotliCompress, type BrotliCompress } from 'node:zlib';
import { DataError } from '../errors.js';
import { matchLength } from './match-length.js';
import type { MatchSink } from './matcher.js';
import { OP_ADD, OP_COPY, OP_INSERT, OP_SEEK } from './format.js';
import type { Predictor } from './ref-predict.js';
import { writeVarint, zigzag } from './varint.js';

const CHUNK = 1 << 20;
/**
 * Runs of equal bytes at least this long become COPY operations instead of zero differences. Zero
 * runs cost 2-3 bytes in the run-length coded difference stream, while every COPY adds control
 * records that compress badly: 48 gave 8x more control bytes on a 40 MB executable and no gain.
 */
const MIN_COPY = 1024;
/** Let each compressor queue this much input, so matching and compression overlap. */
const QUEUE = 2 << 20;

/**
 * How a stream is compressed. Every stream starts with the slow, strong setting (brotli quality 10
 * is much better than 9 on sparse differences), compressing on zlib's thread pool while matching
 * goes on; its input is kept meanwhile. Once a stream outgrows `bufferUpTo`, the strong compressor
 * is dropped and the kept input and the rest go through the fast setting, so time and memory stay
 * bounded on large, very different inputs.
 */
export interface StreamCompression {
  readonly strong: { quality: number; lgwin: number };
  readonly fast: { quality: number; lgwin: number };
  readonly bufferUpTo: number;
  /**
   * For a stream that may hold incompressible bytes (new random or already compressed files):
   * each chunk is probed first, and once `after` bytes of it did not compress, the strong setting
   * is dropped for `setting`. Brotli's strong settings are very slow on such bytes (quality 11:
   * minutes for 8 MB of random data; quality 9: 0.5 s per MB) for no gain.
   */
  readonly incompressible?: { readonly after: number; readonly setting: { quality: number; lgwin: number } };
  /**
   * Start the strong setting only at the end, once the stream is known to fit `bufferUpTo`, instead
   * of beside the matching. For a setting whose work is large and mostly lost when the stream
   * outgrows the cap (brotli quality 11: about 20 MB of memory per MB of input, and its running
   * task cannot be stopped, so it overlapped the fast compressor that replaced it).
   */
  readonly strongAtEnd?: boolean;
}

const PROBE = 64 << 10;

/** The error createPatch gives when the patch would be longer than its `maxLength`. */
export function patchTooLarge(maxLength: number): DataError {
  return new DataError(
    'PATCH_TOO_LARGE',
    `the patch would be larger than ${maxLength} bytes, so it is not made; publish the full archive only`,
  );
}

/** Whether a sample of `bytes` does not compress (brotli quality 1 gains under 2 %). */
export function looksIncompressible(bytes: Buffer): boolean {
  if (bytes.length < 4096) return false;
  const sample = bytes.subarray(0, Math.min(bytes.length, PROBE));
  const packed = brotliCompressSync(sample, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 1, [constants.BROTLI_PARAM_LGWIN]: 16 },
  });
  return packed.length > sample.length * 0.98;
}

/** One output stream: buffered input, compressed on zlib's thread pool, output kept in memory. */
class Compressed {
  private buf = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  /** The strong compressor runs from the start (overlapping with matching) until the cap. */
  private strong: BrotliCompress | undefined;
  private strongOut: Buffer[] = [];
  private fast: BrotliCompress | undefined;
  private readonly fastOut: Buffer[] = [];
  /** Input kept while the strong compressor runs, to restart with the fast one past the cap. */
  private held: Buffer[] = [];
  private heldLength = 0;
  private failure: Error | undefined;
  private incompressibleBytes = 0;
  private strongBytes = 0;
  private fastBytes = 0;
  uncompressed = 0;

  /** Compressed bytes out so far (of the setting in use): the stream ends at least this long. */
  get emitted(): number {
    return this.fast !== undefined ? this.fastBytes : this.strongBytes;
  }

  constructor(
    private readonly how: StreamCompression,
    private readonly sizeHint: number,
  ) {
    if (how.strongAtEnd !== true) this.startStrong();
  }

  private startStrong(): BrotliCompress {
    this.strong = this.make(this.how.strong, Math.min(this.sizeHint, this.how.bufferUpTo), this.strongOut);
    this.strongBytes = 0;
    return this.strong;
  }

  private make(setting: { quality: number; lgwin: number }, sizeHint: number, out: Buffer[]): BrotliCompress {
    const z = createBrotliCompress({
      params: {
        [constants.BROTLI_PARAM_QUALITY]: setting.quality,
        [constants.BROTLI_PARAM_LGWIN]: setting.lgwin,
        [constants.BROTLI_PARAM_SIZE_HINT]: Math.min(Math.floor(sizeHint), 2 ** 30),
      },
      writableHighWaterMark: QUEUE,
    } as Parameters<typeof createBrotliCompress>[0]);
    z.on('data', (c: Buffer) => {
      out.push(c);
      if (out === this.fastOut) this.fastBytes += c.length;
      else if (out === this.strongOut) this.strongBytes += c.length;
    });
    z.on('error', (e: Error) => (this.failure = e));
    return z;
  }

  private write(bytes: Buffer): void {
    if (this.fast !== undefined) {
      this.fast.write(bytes);
      return;
    }
    this.held.push(bytes);
    this.heldLength += bytes.length;
    const inc = this.how.incompressible;
    if (inc !== undefined && looksIncompressible(bytes)) {
      this.incompressibleBytes += bytes.length;
      if (this.incompressibleBytes >= inc.after) {
        this.switchTo(inc.setting);
        return;
      }
    }
    if (this.heldLength <= this.how.bufferUpTo) {
      // Not waiting for 'drain': what it queues is `held`, which is kept anyway.
      this.strong?.write(bytes);
      return;
    }
    this.switchTo(this.how.fast);
  }

  /** Drops the strong compressor and sends everything so far and from now on through `setting`. */
  private switchTo(setting: { quality: number; lgwin: number }): void {
    this.strong?.destroy();
    this.strong = undefined;
    this.strongOut = [];
    this.strongBytes = 0;
    this.fast = this.make(setting, this.sizeHint, this.fastOut);
    for (const h of this.held) this.fast.write(h);
    this.held = [];
  }

  /** Room for at least `n` more bytes in the current buffer (n <= CHUNK). */
  room(n: number): Buffer {
    if (this.pos + n > CHUNK) this.handOn();
    return this.buf;
  }

  get position(): number {
    return this.pos;
  }

  advance(n: number): void {
    this.pos += n;
    this.uncompressed += n;
  }

  /** Appends bytes (large ones are handed on without a copy: they live as long as the input does). */
  append(bytes: Buffer): void {
    if (bytes.length >= CHUNK / 4) {
      this.handOn();
      this.write(bytes);
      this.uncompressed += bytes.length;
      return;
    }
    this.room(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.advance(bytes.length);
  }

  private handOn(): void {
    if (this.pos === 0) return;
    this.write(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.pos = 0;
  }

  get pressure(): boolean {
    return this.fast?.writableNeedDrain ?? false;
  }

  async drain(): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.fast?.writableNeedDrain === true) await once(this.fast, 'drain');
  }

  async finish(): Promise<Buffer[]> {
    this.handOn();
    if (this.fast === undefined && this.strong === undefined && this.how.strongAtEnd === true) {
      const strong = this.startStrong();
      for (const h of this.held) strong.write(h);
    }
    const z = this.fast ?? this.strong;
    if (z === undefined) throw new Error('stream already finished');
    z.end();
    await once(z, 'end');
    if (this.failure !== undefined) throw this.failure;
    this.held = [];
    return this.fast !== undefined ? this.fastOut : this.strongOut;
  }

  destroy(): void {
    this.strong?.destroy();
    this.fast?.destroy();
    this.held = [];
  }
}

// Measured on the streams of a 98 MB executable (CPU seconds): differences (13 MB) quality 9 with a
// 2^18 window 5.29 MB in 2.0 s, smaller and faster than a 2^24 window (5.58 MB, 14 s); quality 10
// with a 2^16 window 4.92 MB in 10 s. Extra bytes (8 MB): quality 9 with 2^22 3.37 MB in 3 s. On
// the 1.1 MB of extra bytes of a Node.js runtime update, quality 11 with 2^24 gave 380 KB against
// 450 KB at quality 10, in 2 s. The strong setting's work is lost past the cap: keep caps small.
export const COMPRESSION: Readonly<Record<'control' | 'diff' | 'extra', StreamCompression>> = {
  control: {
    strong: { quality: 10, lgwin: 18 },
    fast: { quality: 9, lgwin: 18 },
    bufferUpTo: 2 << 20,
    strongAtEnd: true,
  },
  diff: { strong: { quality: 10, lgwin: 16 }, fast: { quality: 9, lgwin: 18 }, bufferUpTo: 16 << 20 },
  extra: {
    strong: { quality: 11, lgwin: 24 },
    fast: { quality: 7, lgwin: 22 },
    bufferUpTo: 2 << 20,
    incompressible: { after: 1 << 20, setting: { quality: 1, lgwin: 22 } },
    strongAtEnd: true,
  },
};

/**
 * The match sink that writes the patch's three streams: control records, byte differences of
 * aligned runs (new - old, mod 256), and extra (inserted) bytes. It merges consecutive operations of
 * the same kind and turns long equal runs inside aligned regions into COPY operations.
 */
export class StreamWriter implements MatchSink {
  readonly control: Compressed;
  readonly diff: Compressed;
  readonly extra: Compressed;
  private oldPos = 0;
  private pendingOp = -1;
  private pendingLen = 0;
  ops = 0;
  /**
   * Give up (PATCH_TOO_LARGE) once the compressed streams exceed this many bytes: a patch nearly
   * as large as the archive it replaces is not worth making.
   */
  maxLength = Infinity;

  /** Old bytes of the current slice with references predicted (when predicting). */
  private readonly predicted: Buffer;

  constructor(
    private readonly old: Buffer,
    private readonly nu: Buffer,
    compression = COMPRESSION,
    private readonly predictor?: Predictor,
  ) {
    this.predicted = Buffer.allocUnsafe(predictor === undefined ? 0 : CHUNK / 4);
    this.control = new Compressed(compression.control, nu.length / 64);
    this.diff = new Compressed(compression.diff, nu.length);
    this.extra = new Compressed(compression.extra, nu.length);
  }

  private record(op: number, length: number): void {
    const buf = this.control.room(8);
    const end = writeVarint(buf, this.control.position, length * 4 + op);
    this.control.advance(end - this.control.position);
    this.ops++;
  }

  private op(op: number, length: number): void {
    if (length === 0) return;
    if (op === this.pendingOp) {
      this.pendingLen += length;
      return;
    }
    if (this.pendingOp >= 0) this.record(this.pendingOp, this.pendingLen);
    this.pendingOp = op;
    this.pendingLen = length;
  }

  private seekTo(oldStart: number): void {
    if (oldStart === this.oldPos) return;
    if (this.pendingOp >= 0) this.record(this.pendingOp, this.pendingLen);
    this.pendingOp = -1;
    this.record(OP_SEEK, zigzag(oldStart - this.oldPos));
    this.oldPos = oldStart;
  }

  /** Zero differences not yet written (a run may continue across ADD operations). */
  private zeros = 0;

  private writeZeros(): void {
    const buf = this.diff.room(9);
    const at = this.diff.position;
    buf[at] = 0;
    this.diff.advance(writeVarint(buf, at + 1, this.zeros - 1) - at);
    this.zeros = 0;
  }

  /**
   * Writes the differences new - old (mod 256) of new[start, end), run-length coded: a non-zero byte
   * is itself; a zero byte is followed by a varint n for a run of n + 1 zero differences.
   */
  private add(start: number, end: number, delta: number): void {
    const { nu } = this;
    let old: Uint8Array = this.old;
    let base = delta; // old[k + base] is the old byte under new[k]
    const SLICE = CHUNK / 4;
    const predictor = this.predictor;
    if (predictor !== undefined) {
      // Each ADD is its own record: the applier predicts references record by record.
      if (this.pendingOp === OP_ADD) {
        this.record(this.pendingOp, this.pendingLen);
        this.pendingOp = -1;
      }
      predictor.begin(start + delta, start, end - start);
      old = this.predicted;
    }
    for (let p = start; p < end; p += SLICE) {
      const stop = Math.min(end, p + SLICE);
      if (predictor !== undefined) {
        // The old bytes of this slice with their references predicted, as the applier does.
        const o = p + delta;
        this.old.copy(this.predicted, 0, o, o + stop - p);
        const aheadEnd = Math.min(end + delta, o + (stop - p) + 8);
        predictor.piece(this.predicted, 0, o, stop - p, this.old.subarray(o + stop - p, aheadEnd));
        base = -p;
      }
      // Room for the worst case (alternating zero / non-zero: 2 bytes per 2 differences) plus a run.
      const buf = this.diff.room(2 * (stop - p) + 16);
      const from = this.diff.position;
      let o = from;
      for (let k = p; k < stop; k++) {
        const d = ((nu[k] as number) - (old[k + base] as number)) & 255;
        if (d === 0) {
          this.zeros++;
          continue;
        }
        if (this.zeros > 0) {
          buf[o++] = 0;
          o = writeVarint(buf, o, this.zeros - 1);
          this.zeros = 0;
        }
        buf[o++] = d;
      }
      this.diff.advance(o - from);
    }
    this.op(OP_ADD, end - start);
  }

  /** The aligned region not yet written: contiguous aligned runs at the same offset are merged. */
  private alignedStart = 0;
  private alignedEnd = 0;
  private alignedDelta = 0;

  aligned(start: number, length: number, oldStart: number): void {
    if (length === 0) return;
    const delta = oldStart - start;
    if (this.alignedEnd > this.alignedStart && start === this.alignedEnd && delta === this.alignedDelta) {
      this.alignedEnd += length;
      return;
    }
    this.writeAligned();
    this.alignedStart = start;
    this.alignedEnd = start + length;
    this.alignedDelta = delta;
  }

  private writeAligned(): void {
    const start = this.alignedStart;
    const end = this.alignedEnd;
    if (end <= start) return;
    const delta = this.alignedDelta;
    this.alignedStart = this.alignedEnd = 0;
    this.seekTo(start + delta);
    let addFrom = start;
    let p = start;
    while (p < end) {
      const m = matchLength(this.nu, p, this.old, p + delta, end - p);
      if (m >= MIN_COPY || (m === end - p && addFrom === p)) {
        if (p > addFrom) this.add(addFrom, p, delta);
        this.op(OP_COPY, m);
        p += m;
        addFrom = p;
      } else {
        p = Math.min(end, p + m + 1);
      }
    }
    if (end > addFrom) this.add(addFrom, end, delta);
    this.oldPos = end + delta;
  }

  insert(start: number, length: number): void {
    this.writeAligned();
    const bytes = this.nu.subarray(start, start + length);
    // New bytes that do not compress and alone take the patch past maxLength: the patch is given
    // up here, without compressing them (a release of new random or compressed files).
    if (!this.overLimit && this.emitted + length > this.maxLength && looksIncompressible(bytes))
      this.overLimit = true;
    if (!this.overLimit) this.extra.append(bytes);
    this.op(OP_INSERT, length);
  }

  private overLimit = false;

  private get emitted(): number {
    return this.control.emitted + this.diff.emitted + this.extra.emitted;
  }

  private get tooLarge(): boolean {
    return this.overLimit || this.emitted > this.maxLength;
  }

  get pressure(): boolean {
    return this.control.pressure || this.diff.pressure || this.extra.pressure || this.tooLarge;
  }

  async flush(): Promise<void> {
    if (this.tooLarge) throw patchTooLarge(this.maxLength);
    await Promise.all([this.control.drain(), this.diff.drain(), this.extra.drain()]);
  }

  /** Ends the streams; resolves to their compressed bytes, in file order. */
  async finish(): Promise<{ control: Buffer[]; diff: Buffer[]; extra: Buffer[] }> {
    if (this.tooLarge) throw patchTooLarge(this.maxLength);
    this.writeAligned();
    if (this.zeros > 0) this.writeZeros();
    if (this.pendingOp >= 0) this.record(this.pendingOp, this.pendingLen);
    this.pendingOp = -1;
    // One after the other: each compressor's memory is freed before the next one's last work
    // (the control stream's strong compressor only starts here).
    const extra = await this.extra.finish();
    const diff = await this.diff.finish();
    const control = await this.control.finish();
    return { control, diff, extra };
  }

  destroy(): void {
    this.control.destroy();
    this.diff.destroy();
    this.extra.destroy();
  }
}
