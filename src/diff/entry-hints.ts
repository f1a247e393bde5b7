import { tarEntries } from './tar-entries.js';

/**
 * Hints for the matcher from the tar structure of both archives, sorted by position in the new one:
 * - `copy`: an entry whose bytes are identical to an old entry (same path, or moved: same size and
 *   same bytes), verified here byte for byte;
 * - `align`: an entry that changed but has an old entry of the same path: a good starting
 *   alignment for the byte matcher.
 */
export interface Hint {
  readonly kind: 'copy' | 'align';
  readonly newStart: number;
  readonly oldStart: number;
  readonly length: number;
}

/** Entries smaller than this are left to the byte matcher (not worth an operation of their own). */
const MIN_HINT = 64;
/** How many same-size old entries to compare when looking for a moved one. */
const MAX_CANDIDATES = 8;

function same(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, length: number): boolean {
  return Buffer.compare(a.subarray(aStart, aStart + length), b.subarray(bStart, bStart + length)) === 0;
}

export function entryHints(oldTar: Uint8Array, newTar: Uint8Array): Hint[] {
  const oldEntries = tarEntries(oldTar);
  if (oldEntries.length === 0) return [];
  const byPath = new Map<string, { dataOffset: number; size: number }>();
  const bySize = new Map<number, number[]>();
  for (const e of oldEntries) {
    byPath.set(e.path, e);
    if (e.size < MIN_HINT) continue;
    const list = bySize.get(e.size);
    if (list === undefined) bySize.set(e.size, [e.dataOffset]);
    else if (list.length < MAX_CANDIDATES) list.push(e.dataOffset);
  }
  const hints: Hint[] = [];
  for (const e of tarEntries(newTar)) {
    if (e.size < MIN_HINT) continue;
    const old = byPath.get(e.path);
    if (
      old !== undefined &&
      old.size === e.size &&
      same(oldTar, old.dataOffset, newTar, e.dataOffset, e.size)
    ) {
      hints.push({ kind: 'copy', newStart: e.dataOffset, oldStart: old.dataOffset, length: e.size });
      continue;
    }
    const moved = (bySize.get(e.size) ?? []).find((o) => same(oldTar, o, newTar, e.dataOffset, e.size));
    if (moved !== undefined) {
      hints.push({ kind: 'copy', newStart: e.dataOffset, oldStart: moved, length: e.size });
    } else if (old !== undefined) {
      hints.push({ kind: 'align', newStart: e.dataOffset, oldStart: old.dataOffset, length: e.size });
    }
  }
  return hints;
}
