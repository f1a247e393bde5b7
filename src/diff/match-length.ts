/**
 * Length of the common run of `a` from `ai` and `b` from `bi`, at most `max` bytes. Short runs are
 * compared in JavaScript; long ones in growing slices with Buffer#compare (native memcmp, no copy).
 */
export function matchLength(a: Buffer, ai: number, b: Buffer, bi: number, max: number): number {
  const short = max < 32 ? max : 32;
  let k = 0;
  while (k < short && a[ai + k] === b[bi + k]) k++;
  if (k < short || k === max) return k;
  let chunk = 256;
  while (k < max) {
    const c = Math.min(chunk, max - k);
    if (b.compare(a, ai + k, ai + k + c, bi + k, bi + k + c) !== 0) {
      while (a[ai + k] === b[bi + k]) k++;
      return k;
    }
    k += c;
    if (chunk < 1 << 20) chunk *= 2;
  }
  return k;
}
