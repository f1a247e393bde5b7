import type { Hint } from './entry-hints.js';
import { anySeed, type OldIndex } from './matcher.js';
import { looksIncompressible } from './stream-writer.js';

/** The new archive is judged in blocks of this size, each by two samples. */
const BLOCK = 64 << 10;
const SAMPLE = 4 << 10;

/** Whether new[start, start + BLOCK) lies inside an entry the hints copy whole (`at` walks them). */
function copied(hints: readonly Hint[], at: { k: number }, start: number): boolean {
  while (at.k < hints.length) {
    const h = hints[at.k] as Hint;
    if (h.newStart + h.length > start) break;
    at.k++;
  }
  const h = hints[at.k];
  return (
    h !== undefined && h.kind === 'copy' && h.newStart <= start && start + BLOCK <= h.newStart + h.length
  );
}

/**
 * An estimate, made before matching, of the new archive's bytes that will go into the patch as
 * they are: bytes with no seed in the old archive (the matcher has nothing to align them with)
 * that do not compress (brotli gains under 2 % on them: random or already compressed data). Each
 * 64 KB block is judged by a 4 KB sample at its start and one at its middle, both of which must be
 * such bytes; blocks of entries the hints copy whole are skipped. A patch is at least this long.
 * Costs about 1 % of matching: it lets a patch with a length limit give up before matching bytes
 * that can only be inserted (a release of new random or compressed files).
 */
export function unmatchedIncompressible(
  index: OldIndex,
  old: Buffer,
  nu: Buffer,
  hints: readonly Hint[],
): number {
  let total = 0;
  const at = { k: 0 };
  for (let b = 0; b + BLOCK <= nu.length; b += BLOCK) {
    if (copied(hints, at, b)) continue;
    const first = nu.subarray(b, b + SAMPLE);
    const middle = nu.subarray(b + BLOCK / 2, b + BLOCK / 2 + SAMPLE);
    if (anySeed(index, old, first) || anySeed(index, old, middle)) continue;
    if (!looksIncompressible(first) || !looksIncompressible(middle)) continue;
    total += BLOCK;
  }
  return total;
}
