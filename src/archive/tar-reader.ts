import { DataError } from '../errors.js';
import { BLOCK, MAX_OCTAL_11, paddingLength } from './tar-format.js';
import { MAX_PAX_HEADER_BYTES } from './unpack-limits.js';

/**
 * A strict streaming tar reader: ustar headers (checksum verified) and pax extended headers ('x'),
 * the subset of tar that notsotuf writes. It reports every entry type it sees (so the caller can
 * refuse hard links and devices by name) and decides nothing about paths: unpack.ts does that.
 * Data is pulled on demand, so memory holds at most one chunk of the source plus one pax header.
 */

export type ReadEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'device' | 'fifo' | 'unsupported';

export interface ReadEntry {
  readonly type: ReadEntryType;
  /** The typeflag byte as found (for messages). */
  readonly typeflag: string;
  /** Path as stored, with one trailing "/" removed for directories. */
  readonly path: string;
  readonly linkTarget: string;
  readonly mode: number;
  readonly size: number;
  readonly mtime: number;
}

/** Trailing bytes accepted after the end-of-archive blocks (all must be zero). */
const MAX_TRAILING_BYTES = 64 * 1024;

function corrupt(what: string): DataError {
  return new DataError(
    'ARCHIVE_CORRUPT',
    `the archive is not a valid notsotuf tar: ${what}. Do not install it; download it again or ask the publisher to re-publish`,
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeText(bytes: Buffer, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw corrupt(`${what} is not valid UTF-8`);
  }
}

function field(block: Buffer, offset: number, width: number): Buffer {
  const raw = block.subarray(offset, offset + width);
  const nul = raw.indexOf(0);
  return nul === -1 ? raw : raw.subarray(0, nul);
}

function octalField(block: Buffer, offset: number, width: number, what: string): number {
  const raw = block.subarray(offset, offset + width);
  if (((raw[0] ?? 0) & 0x80) !== 0)
    throw corrupt(`${what} uses base-256 encoding, which notsotuf never writes`);
  const text = raw
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  if (!/^[0-7]*$/.test(text)) throw corrupt(`${what} is not an octal number`);
  return text === '' ? 0 : parseInt(text, 8);
}

function typeOf(flag: string): ReadEntryType {
  switch (flag) {
    case '0':
    case '\0':
      return 'file';
    case '5':
      return 'dir';
    case '2':
      return 'symlink';
    case '1':
      return 'hardlink';
    case '3':
    case '4':
      return 'device';
    case '6':
      return 'fifo';
    default:
      return 'unsupported';
  }
}

interface Pax {
  path?: string;
  linkpath?: string;
  size?: number;
  mtime?: number;
}

function parsePax(data: Buffer): Pax {
  const pax: Pax = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1 || space - at > 8) throw corrupt('a pax record has no length');
    const lenText = data.toString('latin1', at, space);
    if (!/^[1-9][0-9]*$/.test(lenText)) throw corrupt('a pax record length is not a number');
    const len = Number(lenText);
    const end = at + len;
    if (end > data.length || data[end - 1] !== 0x0a) throw corrupt('a pax record is cut short');
    const record = decodeText(data.subarray(space + 1, end - 1), 'a pax record');
    const eq = record.indexOf('=');
    if (eq === -1) throw corrupt('a pax record has no "="');
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === 'path') pax.path = value;
    else if (key === 'linkpath') pax.linkpath = value;
    else if (key === 'size') {
      if (!/^[0-9]{1,16}$/.test(value) || !Number.isSafeInteger(Number(value)))
        throw corrupt('pax size is not a number');
      pax.size = Number(value);
    } else if (key === 'mtime') {
      if (!/^-?[0-9]{1,16}(\.[0-9]{1,9})?$/.test(value)) throw corrupt('pax mtime is not a number');
      pax.mtime = Math.floor(Number(value));
    }
    // other keys (xattrs, uid, uname, ...) carry nothing notsotuf keeps
    at = end;
  }
  return pax;
}

/** Pulls exact byte counts out of an async iterable of chunks. */
class ByteSource {
  private chunk: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  private done = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.chunk.length === 0 && !this.done) {
      const next = await this.it.next();
      if (next.done) this.done = true;
      else this.chunk = next.value;
    }
    return this.chunk.length > 0;
  }

  /** Exactly n bytes (n is small: a block or a bounded pax header), or undefined at a clean end. */
  async exact(n: number): Promise<Buffer | undefined> {
    if (n === 0) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      if (!(await this.fill())) {
        if (got === 0) return undefined;
        throw corrupt('it ends in the middle of a block');
      }
      const take = Math.min(n - got, this.chunk.length);
      parts.push(this.chunk.subarray(0, take));
      this.chunk = this.chunk.subarray(take);
      got += take;
    }
    // Always a copy: the source may reuse its buffers once the next chunk is asked for.
    return Buffer.concat(parts, n);
  }

  /**
   * The next n bytes as they arrive (no copy, no accumulation). Each chunk is valid only until the
   * next one is asked for (the source may read into the same buffer again).
   */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) throw corrupt('it ends in the middle of a file');
      const take = Math.min(left, this.chunk.length);
      const out = this.chunk.subarray(0, take);
      this.chunk = this.chunk.subarray(take);
      left -= take;
      yield out;
    }
  }

  /** Reads what is left, failing on non-zero bytes or more than `max` bytes. */
  async rest(max: number): Promise<void> {
    let seen = 0;
    while (await this.fill()) {
      seen += this.chunk.length;
      if (seen > max || this.chunk.some((b) => b !== 0))
        throw corrupt('there is data after the end of the archive');
      this.chunk = Buffer.alloc(0);
    }
  }
}

function isZero(block: Buffer): boolean {
  for (const b of block) if (b !== 0) return false;
  return true;
}

function verifyChecksum(block: Buffer): void {
  const stored = octalField(block, 148, 8, 'header checksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
  if (sum !== stored) throw corrupt('a header checksum does not match (truncated or tampered data)');
}

/**
 * Yields each entry with a `data()` generator for its bytes. The caller must either read `data()`
 * to the end or stop iterating; skipping is done for it when it asks for the next entry.
 */
export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<{
  entry: ReadEntry;
  data: () => AsyncGenerator<Buffer>;
}> {
  const src = new ByteSource(source);
  let pax: Pax | undefined;
  for (;;) {
    const block = await src.exact(BLOCK);
    if (block === undefined) throw corrupt('it ends without the end-of-archive blocks');
    if (isZero(block)) {
      if (pax) throw corrupt('a pax header is followed by the end of the archive');
      const second = await src.exact(BLOCK);
      if (second === undefined || !isZero(second)) throw corrupt('the end-of-archive marker is incomplete');
      await src.rest(MAX_TRAILING_BYTES);
      return;
    }
    verifyChecksum(block);
    const magic = block.toString('latin1', 257, 263);
    if (magic !== 'ustar\0') throw corrupt('a header is not POSIX ustar');
    const flag = String.fromCharCode(block[156] as number);
    const headerSize = octalField(block, 124, 12, 'size');

    if (flag === 'x') {
      if (pax) throw corrupt('two pax headers in a row');
      if (headerSize > MAX_PAX_HEADER_BYTES)
        throw corrupt(`a pax header is larger than ${MAX_PAX_HEADER_BYTES} bytes`);
      const data = (await src.exact(headerSize)) ?? Buffer.alloc(0);
      if (data.length !== headerSize) throw corrupt('it ends inside a pax header');
      await src.exact(paddingLength(headerSize));
      pax = parsePax(data);
      continue;
    }

    const prefix = field(block, 345, 155);
    const name = field(block, 0, 100);
    let path =
      pax?.path ??
      decodeText(prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), name]) : name, 'a path');
    const type = typeOf(flag);
    if (type === 'dir' && path.endsWith('/')) path = path.slice(0, -1);
    const size = pax?.size ?? headerSize;
    const entry: ReadEntry = {
      type,
      typeflag: flag === '\0' ? '0' : flag,
      path,
      linkTarget: pax?.linkpath ?? decodeText(field(block, 157, 100), 'a link target'),
      mode: octalField(block, 100, 8, 'mode'),
      size,
      // clamped to what the writer can express, so utimes never sees a negative or absurd time
      mtime: Math.min(Math.max(pax?.mtime ?? octalField(block, 136, 12, 'mtime'), 0), MAX_OCTAL_11),
    };
    pax = undefined;
    if ((type === 'dir' || type === 'symlink') && size !== 0)
      throw corrupt(`"${path}" is a ${type} with data`);

    let consumed = false;
    const data = async function* (): AsyncGenerator<Buffer> {
      consumed = true;
      yield* src.stream(size);
      await src.exact(paddingLength(size));
    };
    yield { entry, data };
    if (!consumed) {
      // the caller skipped this entry's data: read past it without keeping it
      for await (const _ of src.stream(size)) void _;
      await src.exact(paddingLength(size));
    }
  }
}
