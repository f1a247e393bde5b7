/**
 * The notsotuf tar format, version 1: the byte layout of one entry. docs/archive-format.md documents
 * every field; a change here changes the sha256 of every tar a client rebuilds from its installed
 * folder, so it is a format change, not a refactoring. Pure functions over values only.
 */

export const BLOCK = 512;

/** Modification time written when `keepMtime` is not asked for: 2000-01-01T00:00:00Z. */
export const FIXED_MTIME = 946684800;

/** Largest number an 11-digit octal field holds (8 GiB - 1 for sizes). */
export const MAX_OCTAL_11 = 0o77777777777;

/** Name written in the ustar header of a pax extended header block. */
export const PAX_HEADER_NAME = '././@PaxHeader';

export const TYPE_FILE = '0';
export const TYPE_DIR = '5';
export const TYPE_SYMLINK = '2';
export const TYPE_PAX = 'x';

export const MODE_DIR = 0o755;
export const MODE_EXEC = 0o755;
export const MODE_PLAIN = 0o644;

/** The only file modes the format knows: any executable bit makes a file 0755, else 0644. */
export function normaliseFileMode(mode: number): number {
  return (mode & 0o111) !== 0 ? MODE_EXEC : MODE_PLAIN;
}

export type EntryType = 'file' | 'dir' | 'symlink';

/** One entry as the format sees it (path without trailing slash, `/` separators). */
export interface TarEntryHeader {
  readonly type: EntryType;
  readonly path: string;
  readonly mode: number;
  readonly size: number;
  readonly mtime: number;
  readonly linkTarget: string;
}

function octal(value: number, width: number): string {
  // width includes the terminating NUL
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function putString(block: Buffer, offset: number, width: number, value: string | Buffer): void {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (bytes.length > width) throw new Error(`internal: tar field overflow (${bytes.length} > ${width})`);
  bytes.copy(block, offset);
}

/** Cuts a UTF-8 string to at most `max` bytes without splitting a character. */
function truncateUtf8(value: string, max: number): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length <= max) return bytes;
  let end = max;
  // step back over continuation bytes (10xxxxxx) so the cut lands on a character start
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

function ustarHeader(fields: {
  name: Buffer;
  mode: number;
  size: number;
  mtime: number;
  type: string;
  linkname: Buffer;
}): Buffer {
  const h = Buffer.alloc(BLOCK); // zero-filled: uname, gname, devmajor, devminor, prefix stay empty
  putString(h, 0, 100, fields.name);
  putString(h, 100, 8, octal(fields.mode, 8));
  putString(h, 108, 8, octal(0, 8)); // uid
  putString(h, 116, 8, octal(0, 8)); // gid
  putString(h, 124, 12, octal(fields.size, 12));
  putString(h, 136, 12, octal(fields.mtime, 12));
  h.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  putString(h, 156, 1, fields.type);
  putString(h, 157, 100, fields.linkname);
  putString(h, 257, 6, 'ustar\0');
  putString(h, 263, 2, '00');
  let sum = 0;
  for (const b of h) sum += b;
  putString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

function paxRecord(key: string, value: string): string {
  // "<len> <key>=<value>\n" where <len> counts the whole record, its own digits included
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body, 'utf8');
  let len = bodyLength + 1;
  while (String(len).length + bodyLength !== len) len = String(len).length + bodyLength;
  return `${len}${body}`;
}

function padding(length: number): number {
  const rest = length % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}

/**
 * The header blocks of one entry: an optional pax extended header (only when a value does not fit
 * its ustar field) followed by the ustar header. The file's data and padding follow separately.
 */
export function encodeEntryHeader(entry: TarEntryHeader): Buffer {
  const name = entry.type === 'dir' ? `${entry.path}/` : entry.path;
  const nameBytes = Buffer.byteLength(name, 'utf8');
  const linkBytes = Buffer.byteLength(entry.linkTarget, 'utf8');
  const size = entry.type === 'file' ? entry.size : 0;
  const mtime = Math.min(Math.max(Math.floor(entry.mtime), 0), MAX_OCTAL_11);

  // fixed record order: path, linkpath, size
  let pax = '';
  if (nameBytes > 100) pax += paxRecord('path', name);
  if (linkBytes > 100) pax += paxRecord('linkpath', entry.linkTarget);
  if (size > MAX_OCTAL_11) pax += paxRecord('size', String(size));

  const header = ustarHeader({
    name: truncateUtf8(name, 100),
    mode: entry.mode,
    size: size > MAX_OCTAL_11 ? 0 : size,
    mtime,
    type: entry.type === 'file' ? TYPE_FILE : entry.type === 'dir' ? TYPE_DIR : TYPE_SYMLINK,
    linkname: truncateUtf8(entry.linkTarget, 100),
  });
  if (pax === '') return header;

  const paxData = Buffer.from(pax, 'utf8');
  const paxHeader = ustarHeader({
    name: Buffer.from(PAX_HEADER_NAME),
    mode: MODE_PLAIN,
    size: paxData.length,
    mtime,
    type: TYPE_PAX,
    linkname: Buffer.alloc(0),
  });
  return Buffer.concat([paxHeader, paxData, Buffer.alloc(padding(paxData.length)), header]);
}

/** Zero bytes that follow `length` bytes of file data up to the next block. */
export function dataPadding(length: number): Buffer {
  return Buffer.alloc(padding(length));
}

/** End of archive: two zero blocks, and nothing after them. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

export { padding as paddingLength };
