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

  /**
   * Adds the next `n` differences (run-length coded: see docs/patch-format.md) to target[offset..]:
   * zero runs leave the bytes as they are.
   */
  async addInto(target: Buffer, offset: number, n: number): Promise<void> {
    let o = offset;
    const end = offset + n;
    while (o < end) {
      if (this.zeros > 0) {
        const c = Math.min(this.zeros, end - o);
        this.zeros -= c;
        o += c;
        continue;
      }
      if (this.available === 0 && !(await this.fill())) throw this.corrupt('ends early');
      // Fast path: non-zero differences straight from the current chunk.
      const chunk = this.chunk;
      let p = this.pos;
      const stop = Math.min(chunk.length, p + (end - o));
      while (p < stop) {
        const d = chunk[p] as number;
        if (d === 0) break;
        target[o] = ((target[o] as number) + d) & 255;
        o++;
        p++;
      }
      this.consumed += p - this.pos;
      this.pos = p;
      if (this.consumed > this.limit) throw this.corrupt('is longer than its header says');
      if (o < end && this.available > 0 && this.chunk[this.pos] === 0) {
        this.byte();
        this.zeros = (await this.varint()) + 1;
      }
    }
  }

  private zeros = 0;

  /** An unsigned varint of at most 8 bytes (see varint.ts). */
  async varint(): Promise<number> {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.available === 0 && !(await this.fill())) throw this.corrupt('ends inside a number');
      const b = this.byte();
      v += (b % 128) * scale;
      if (b < 128) return v;
      scale *= 128;
    }
    throw this.corrupt('has a number longer than 8 bytes');
  }

  /** Checks that the stream has ended exactly at its declared length. */
  async expectEnd(): Promise<void> {
    if (this.zeros !== 0 || this.consumed !== this.limit || (await this.fill())) {
      throw this.corrupt('has bytes left over after the result was complete');
    }
  }
}
