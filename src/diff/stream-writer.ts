import { once } from 'node:events';
import { constants, createBrotliCompress, type BrotliCompress } from 'node:zlib';
import { matchLength } from './match-length.js';
import type { MatchSink } from './matcher.js';
import { OP_ADD, OP_COPY, OP_INSERT, OP_SEEK } from './format.js';
import { writeVarint, zigzag } from './varint.js';

const CHUNK = 1 << 20;
/** Runs of equal bytes at least this long become COPY operations instead of zero differences. */
const MIN_COPY = 48;
/** Let each compressor queue this much input, so matching and compression overlap. */
const QUEUE = 8 << 20;

/** One output stream: buffered input, compressed on zlib's thread pool, output kept in memory. */
class Compressed {
  private buf = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  private readonly z: BrotliCompress;
  private readonly out: Buffer[] = [];
  private failure: Error | undefined;
  uncompressed = 0;
  compressedLength = 0;

  constructor(quality: number, sizeHint: number) {
    this.z = createBrotliCompress({
      params: {
        [constants.BROTLI_PARAM_QUALITY]: quality,
        [constants.BROTLI_PARAM_LGWIN]: 24,
        [constants.BROTLI_PARAM_SIZE_HINT]: Math.min(sizeHint, 2 ** 30),
      },
      writableHighWaterMark: QUEUE,
    } as Parameters<typeof createBrotliCompress>[0]);
    this.z.on('data', (c: Buffer) => {
      this.out.push(c);
      this.compressedLength += c.length;
    });
    this.z.on('error', (e: Error) => (this.failure = e));
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
      this.z.write(bytes);
      this.uncompressed += bytes.length;
      return;
    }
    this.room(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.advance(bytes.length);
  }

  private handOn(): void {
    if (this.pos === 0) return;
    this.z.write(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.pos = 0;
  }

  get pressure(): boolean {
    return this.z.writableNeedDrain;
  }

  async drain(): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.z.writableNeedDrain) await once(this.z, 'drain');
  }

  async finish(): Promise<Buffer[]> {
    this.handOn();
    this.z.end();
    await once(this.z, 'end');
    if (this.failure !== undefined) throw this.failure;
    return this.out;
  }

  destroy(): void {
    this.z.destroy();
  }
}

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

  constructor(
    private readonly old: Buffer,
    private readonly nu: Buffer,
    quality = 9,
  ) {
    this.control = new Compressed(quality, nu.length / 64);
    this.diff = new Compressed(quality, nu.length);
    this.extra = new Compressed(quality, nu.length);
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

  private add(start: number, end: number, delta: number): void {
    const { nu, old } = this;
    let p = start;
    while (p < end) {
      const n = Math.min(CHUNK, end - p);
      const buf = this.diff.room(n);
      let o = this.diff.position;
      for (let k = p; k < p + n; k++) buf[o++] = ((nu[k] as number) - (old[k + delta] as number)) & 255;
      this.diff.advance(n);
      p += n;
    }
    this.op(OP_ADD, end - start);
  }

  aligned(start: number, length: number, oldStart: number): void {
    this.seekTo(oldStart);
    const delta = oldStart - start;
    const end = start + length;
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
    this.oldPos = oldStart + length;
  }

  insert(start: number, length: number): void {
    this.extra.append(this.nu.subarray(start, start + length));
    this.op(OP_INSERT, length);
  }

  get pressure(): boolean {
    return this.control.pressure || this.diff.pressure || this.extra.pressure;
  }

  async flush(): Promise<void> {
    await Promise.all([this.control.drain(), this.diff.drain(), this.extra.drain()]);
  }

  /** Ends the streams; resolves to their compressed bytes, in file order. */
  async finish(): Promise<{ control: Buffer[]; diff: Buffer[]; extra: Buffer[] }> {
    if (this.pendingOp >= 0) this.record(this.pendingOp, this.pendingLen);
    this.pendingOp = -1;
    const [control, diff, extra] = await Promise.all([
      this.control.finish(),
      this.diff.finish(),
      this.extra.finish(),
    ]);
    return { control, diff, extra };
  }

  destroy(): void {
    this.control.destroy();
    this.diff.destroy();
    this.extra.destroy();
  }
}
