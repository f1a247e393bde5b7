import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { DataError } from '../errors.js';
import type { Region } from './exe-transform.js';

/** Reads of at least this many bytes go straight into the output. */
const DIRECT_READ = 64 << 10;
/** The cache of the old archive: PAGE_SLOTS pages of PAGE bytes (8 MB), direct-mapped. */
const PAGE = 16 << 10;
const PAGE_SLOTS = 512;

/** The source's transformed code regions, and where their bytes are in the overlay file. */
export interface SourceOverlay {
  readonly regions: readonly Region[];
  readonly at: readonly number[];
  readonly fd: number;
}

/**
 * Positional reads of the old archive. Large reads go straight into the output; small ones are
 * served from a cache of 16 KB pages (8 MB, direct-mapped). Patches of executables copy short
 * pieces from all over the old archive and come back to the same places: a single 64 KB window
 * was refilled 140,000 times (9 GB read) to apply the biome-linux-x64 pair's patch, the cache
 * reads 31,000 pages (0.5 GB). Page reads are synchronous: a thread-pool round trip per 16 KB read
 * costs more than the read itself (from the page cache, the old archive was just hashed).
 */
export class OldReader {
  private readonly slots: number;
  private readonly pages: Buffer;
  /** The page number held by each slot, -1 when empty. */
  private readonly tags: Float64Array;

  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
    private readonly overlay?: SourceOverlay,
  ) {
    this.slots = Math.max(1, Math.min(PAGE_SLOTS, Math.ceil(size / PAGE)));
    this.pages = Buffer.allocUnsafe(this.slots * PAGE);
    this.tags = new Float64Array(this.slots).fill(-1);
  }

  /**
   * Bytes of memory the page cache holds: one page per 16 KB of the old archive, at most 8 MB
   * whatever its size. Read by tests (test/diff/old-reader-cache.test.ts) and measurements.
   */
  get cacheBytes(): number {
    return this.pages.length;
  }

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

  /** The slot holding page `page` of the old archive, read (and overlaid) when it is not there. */
  private slotOf(page: number): number {
    const slot = page % this.slots;
    if (this.tags[slot] === page) return slot;
    const at = slot * PAGE;
    const pos = page * PAGE;
    const want = Math.min(PAGE, this.size - pos);
    this.tags[slot] = -1; // a failed read leaves no half-filled page behind
    let got = 0;
    while (got < want) {
      const bytesRead = readSync(this.fh.fd, this.pages, at + got, want - got, pos + got);
      if (bytesRead === 0) throw this.changed();
      got += bytesRead;
    }
    this.applyOverlay(this.pages, at, pos, want);
    this.tags[slot] = page;
    return slot;
  }

  /** Copies old archive bytes [pos, pos + n) to target[offset...]; the caller checked the range. */
  async copyTo(target: Buffer, offset: number, pos: number, n: number): Promise<void> {
    if (n >= DIRECT_READ) {
      let o = offset;
      let p = pos;
      let left = n;
      while (left > 0) {
        const { bytesRead } = await this.fh.read(target, o, left, p);
        if (bytesRead === 0) throw this.changed();
        o += bytesRead;
        p += bytesRead;
        left -= bytesRead;
      }
      this.applyOverlay(target, offset, pos, n);
      return;
    }
    let o = offset;
    let p = pos;
    const end = pos + n;
    while (p < end) {
      const page = Math.floor(p / PAGE);
      const from = this.slotOf(page) * PAGE + (p - page * PAGE);
      const c = Math.min(end - p, (page + 1) * PAGE - p);
      this.pages.copy(target, o, from, from + c);
      o += c;
      p += c;
    }
  }
}
