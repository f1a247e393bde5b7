import { DataError } from '../errors.js';

/**
 * Pull-style reader over a stream of chunks (a decompressor), refusing to read past `limit` bytes
 * (the uncompressed length the patch header declares) and failing clearly when the stream ends
 * early or its decoder fails.
 */
export class ByteReader {
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  private done = false;
  consumed = 0;

  constructor(
    private readonly it: AsyncIterator<Buffer>,
    private readonly limit: number,
    private readonly name: string,
  ) {}

  private corrupt(what: string, cause?: unknown): DataError {
    return new DataError(
      'PATCH_CORRUPT',
      `the patch is corrupt: its ${this.name} stream ${what}; download it again`,
      {
        cause,
      },
    );
  }

  /** Bytes available without waiting. */
  get available(): number {
    return this.chunk.length - this.pos;
  }

  /** Waits for more bytes; false at the end of the stream. */
  async fill(): Promise<boolean> {
    while (this.available === 0) {
      if (this.done) return false;
      let r;
      try {
        r = await this.it.next();
      } catch (cause) {
        throw this.corrupt('does not decompress', cause);
      }
      if (r.done === true) {
        this.done = true;
        return false;
      }
      this.chunk = r.value;
      this.pos = 0;
    }
    return true;
  }

  /** One byte, synchronously: only call when `available > 0`. */
  byte(): number {
    this.consumed++;
    if (this.consumed > this.limit) throw this.corrupt('is longer than its header says');
    return this.chunk[this.pos++] as number;
  }

  /** Copies exactly `n` bytes into `target` at `offset`. */
  async readInto(target: Buffer, offset: number, n: number): Promise<void> {
    if (this.consumed + n > this.limit) throw this.corrupt('is longer than its header says');
    let o = offset;
    let left = n;
    while (left > 0) {
      if (this.available === 0 && !(await this.fill())) throw this.corrupt('ends early');
      const c = Math.min(left, this.available);
      this.chunk.copy(target, o, this.pos, this.pos + c);
      this.pos += c;
      o += c;
      left -= c;
    }
    this.consumed += n;
  }

  /** Checks that the stream has ended exactly at its declared length. */
  async expectEnd(): Promise<void> {
    if (this.consumed !== this.limit || (await this.fill())) {
      throw this.corrupt('has bytes left over after the result was complete');
    }
  }
}
