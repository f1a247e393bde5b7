/**
 * Unsigned LEB128 varints for values up to 2^53 - 1 (arithmetic on numbers, never 32-bit bit ops,
 * so lengths and offsets above 2 GB survive).
 */
export const MAX_VARINT_BYTES = 8; // 8 * 7 = 56 bits >= 53

/** Writes `value` at `offset` of `buf`; returns the new offset. `buf` must have 8 free bytes. */
export function writeVarint(buf: Uint8Array, offset: number, value: number): number {
  let v = value;
  let o = offset;
  while (v >= 128) {
    buf[o++] = (v % 128) + 128;
    v = Math.floor(v / 128);
  }
  buf[o++] = v;
  return o;
}

/** Zigzag: signed to unsigned (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...). */
export function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

export function unzigzag(n: number): number {
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}
