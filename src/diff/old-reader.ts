import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { DataError } from '../errors.js';
import type { Region } from './exe-transform.js';

const OLD_WINDOW = 64 << 10;

/** The source's transformed code regions, and where their bytes are in the overlay file. */
export interface SourceOverlay {
  readonly regions: readonly Region[];
  readonly at: readonly number[];
  readonly fd: number;
}

/**
 * Positional reads of the old archive. Large reads go straight into the output; small ones are
 * served from a 64 KB window. Window refills are synchronous reads: patches of executables seek
 * all over the old archive in small steps, and a thread-pool round trip per 64 KB read costs more
 * than the read itself (from the page cache, the old archive was just hashed).
 */
export class OldReader {
  private readonly win = Buffer.allocUnsafe(OLD_WINDOW);
  private start = 0;
  private end = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
    private readonly overlay?: SourceOverlay,
  ) {}

  /** Replaces target[o, o + n) (source bytes from `pos`) by the transformed bytes where they overlap a region. */
  private applyOverlay(target: Buffer, o: number, pos: number, n: number): void {
    const ov = this.overlay;
    if (ov === undefined || ov.regions.length === 0) return;
    // The first region ending after pos (binary search on starts).
    let lo = 0;
    let hi = ov.regions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = ov.regions[mid] as Region;
      if (r.start + r.length <= pos) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < ov.regions.length; k++) {
      const r = ov.regions[k] as Region;
      if (r.start >= pos + n) break;
      const from = Math.max(r.start, pos);
      const to = Math.min(r.start + r.length, pos + n);
      let got = 0;
      while (got < to - from) {
        const b = readSync(
          ov.fd,
          target,
          o + from - pos + got,
          to - from - got,
          (ov.at[k] as number) + from - r.start + got,
        );
        if (b === 0) throw this.changed();
        got += b;
      }
    }
  }

  private changed(): DataError {
    return new DataError(
      'PATCH_SOURCE_CHANGED',
      'the old archive changed while the patch was applied; try again',
    );
  }

  async copyTo(target: Buffer, offset: number, pos: number, n: number): Promise<void> {
    let o = offset;
    let p = pos;
    let left = n;
    while (left > 0) {
      if (p >= this.start && p < this.end) {
        const c = Math.min(left, this.end - p);
        this.win.copy(target, o, p - this.start, p - this.start + c);
        o += c;
        p += c;
        left -= c;
      } else if (left >= OLD_WINDOW) {
        const o0 = o;
        const p0 = p;
        const n0 = left;
        while (left > 0) {
          const { bytesRead } = await this.fh.read(target, o, left, p);
          if (bytesRead === 0) throw this.changed();
          o += bytesRead;
          p += bytesRead;
          left -= bytesRead;
        }
        this.applyOverlay(target, o0, p0, n0);
      } else {
        const want = Math.min(OLD_WINDOW, this.size - p);
        let got = 0;
        while (got < want) {
          const bytesRead = readSync(this.fh.fd, this.win, got, want - got, p + got);
          if (bytesRead === 0) throw this.changed();
          got += bytesRead;
        }
        this.applyOverlay(this.win, 0, p, want);
        this.start = p;
        this.end = p + want;
      }
    }
  }
}
