/**
 * Deterministic pseudo-random data for tests, so every run builds the same inputs and a failure
 * reproduces from its seed.
 */

/** A stream of pseudo-random bytes (xorshift32): each call returns the next `n`. */
export function prngBytes(seed: number): (n: number) => Buffer {
  let s = seed >>> 0 || 1;
  return (n) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      b[i] = s & 255;
    }
    return b;
  };
}

/** `length` pseudo-random bytes from `seed` (the first bytes of `prngBytes(seed)`). */
export function pseudoRandom(length: number, seed: number): Buffer {
  return prngBytes(seed)(length);
}

/** Pseudo-random numbers in [0, 1) (mulberry32). */
export function prngNumbers(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
