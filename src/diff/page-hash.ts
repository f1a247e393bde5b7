import { createHash, type Hash } from 'node:crypto';

/**
 * Page hashes (format notsotuf-diff-2, kind 9; docs/patch-format.md). A signed Mach-O holds, in its
 * code signature's CodeDirectory, the SHA-256 of every page of the file before the signature:
 * 32 bytes per 4 KB page, 676 KB for an 87 MB executable, and nearly all of them change when
 * anything moved. They follow from the bytes before them, so the region is transformed by XOR with
 * the hashes of those pages (all zeros where the signature is right) and undone by XOR with the
 * hashes of the result's pages, which are final by the time the region streams out.
 */
export const KIND_PAGE_HASH = 9;
/** Bytes of one hash (SHA-256). */
export const PAGE_HASH_SIZE = 32;
/** Page sizes (log2) a region may have. */
export const MIN_PAGE_SHIFT = 12;
export const MAX_PAGE_SHIFT = 16;

/** Slots of a region hashing `codeLimit` bytes in pages of 2^shift bytes. */
export function pageCount(codeLimit: number, shift: number): number {
  return Math.ceil(codeLimit / 2 ** shift);
}

/**
 * The SHA-256 of each page of archive bytes [from, from + length), fed in order (each byte once,
 * whatever the chunking).
 */
export class PageHashes {
  /** The digests, one after the other (allocated once all pages are known: length / 128 bytes at most). */
  private digests: Uint8Array | undefined;
  private pages = 0;
  private hash: Hash | undefined;
  private done = 0;

  constructor(
    readonly from: number,
    readonly length: number,
    private readonly pageSize: number,
  ) {}

  get complete(): boolean {
    return this.done === this.length;
  }

  /** buf[0, ...) holds archive bytes from `pos`, up to `upTo`: hashes those of the range not yet hashed. */
  feed(buf: Uint8Array, pos: number, upTo: number): void {
    let p = this.from + this.done;
    const stop = Math.min(upTo, this.from + this.length);
    if (p >= stop) return;
    if (p < pos) throw new Error('page hash bytes were skipped');
    while (p < stop) {
      const pageEnd = Math.min(
        this.from + (Math.floor(this.done / this.pageSize) + 1) * this.pageSize,
        this.from + this.length,
      );
      const n = Math.min(stop, pageEnd) - p;
      this.hash ??= createHash('sha256');
      this.hash.update(buf.subarray(p - pos, p - pos + n));
      p += n;
      this.done += n;
      if (p === pageEnd) {
        this.digests ??= new Uint8Array(pageCount(this.length, Math.log2(this.pageSize)) * PAGE_HASH_SIZE);
        this.digests.set(this.hash.digest(), this.pages++ * PAGE_HASH_SIZE);
        this.hash = undefined;
      }
    }
  }

  /** XORs buf[from - pos, to - pos) (bytes of the slots starting at archive offset `slots`) with the digests. */
  apply(buf: Uint8Array, pos: number, from: number, to: number, slots: number): void {
    const d = this.digests;
    if (!this.complete || d === undefined) throw new Error('page hashes used before their pages were read');
    for (let p = from; p < to; p++)
      buf[p - pos] = ((buf[p - pos] as number) ^ (d[p - slots] as number)) & 255;
  }
}
