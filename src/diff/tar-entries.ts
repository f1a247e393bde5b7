/**
 * A lenient reader of tar headers (ustar, pax `x` path records, GNU `L` long names), used only to
 * find whole entries that did not change or moved between two archives. It never decides anything
 * about trust or correctness: every region it proposes is compared byte for byte before use, and on
 * anything it does not understand it stops and returns what it found so far.
 */
export interface TarEntry {
  readonly path: string;
  /** Offset of the entry's data in the archive, and its size. */
  readonly dataOffset: number;
  readonly size: number;
}

const BLOCK = 512;

function cString(buf: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && buf[end] !== 0) end++;
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8');
}

/** Octal, or GNU base-256 (high bit set) for sizes of 8 GB and more; undefined when invalid. */
function parseSize(buf: Uint8Array, start: number): number | undefined {
  const first = buf[start] ?? 0;
  if ((first & 0x80) !== 0) {
    let v = 0;
    for (let i = 1; i < 12; i++) v = v * 256 + (buf[start + i] ?? 0);
    return Number.isSafeInteger(v) ? v : undefined;
  }
  const text = cString(buf, start, 12).trim();
  if (!/^[0-7]*$/.test(text)) return undefined;
  return text === '' ? 0 : parseInt(text, 8);
}

function paxPath(data: Uint8Array): string | undefined {
  const text = Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8');
  let path: string | undefined;
  for (const m of text.matchAll(/^\d+ ([^=\n]+)=(.*)$/gm)) if (m[1] === 'path') path = m[2];
  return path;
}

export function tarEntries(buf: Uint8Array): TarEntry[] {
  const out: TarEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= buf.length) {
    if (buf[offset] === 0) break; // end-of-archive (or garbage): stop
    const size = parseSize(buf, offset + 124);
    if (size === undefined) break;
    const type = String.fromCharCode(buf[offset + 156] ?? 0);
    const dataOffset = offset + BLOCK;
    if (dataOffset + size > buf.length) break;
    const next = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x' || type === 'L') {
      const data = buf.subarray(dataOffset, dataOffset + size);
      longName = type === 'L' ? cString(data, 0, data.length) : (paxPath(data) ?? longName);
    } else if (type === 'g') {
      // global pax header: nothing we need
    } else {
      const isUstar = cString(buf, offset + 257, 5) === 'ustar';
      const name = cString(buf, offset, 100);
      const prefix = isUstar ? cString(buf, offset + 345, 155) : '';
      const path = longName ?? (prefix !== '' ? `${prefix}/${name}` : name);
      longName = undefined;
      if (type === '0' || type === '\0' || type === '7') out.push({ path, dataOffset, size });
    }
    offset = next;
  }
  return out;
}
