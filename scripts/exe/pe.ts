/**
 * The two PE (Windows executable) edits the build makes, from the PE/COFF specification:
 * - drop the Authenticode signature of Node's node.exe before the client is injected: injection
 *   changes the file, so the signature no longer matches, and it is left in the middle of the file
 *   where signing tools expect none ("signtool remove /s", as Node's single-executable docs advise);
 * - write the right header checksum after injection (the injector leaves node.exe's).
 * The result is a plain unsigned executable that a publisher signs with signtool or osslsigncode.
 */

/** Offsets of the fields we touch, found from the headers of a PE32 or PE32+ file. */
interface PeLayout {
  /** The optional header's CheckSum field. */
  readonly checksumAt: number;
  /** The Certificate Table data directory entry (file offset, size). */
  readonly securityDirAt: number;
}

export function peLayout(file: Buffer): PeLayout {
  if (file.length < 0x40 || file.toString('latin1', 0, 2) !== 'MZ')
    throw new Error('not a PE file: no MZ header');
  const pe = file.readUInt32LE(0x3c);
  if (pe + 24 > file.length || file.toString('latin1', pe, pe + 4) !== 'PE\0\0')
    throw new Error('not a PE file: no PE signature');
  const optional = pe + 24;
  const magic = file.readUInt16LE(optional);
  if (magic !== 0x10b && magic !== 0x20b)
    throw new Error(`unknown PE optional header magic 0x${magic.toString(16)}`);
  const directories = optional + (magic === 0x20b ? 112 : 96);
  const count = file.readUInt32LE(directories - 4);
  if (count < 5 || directories + 5 * 8 > file.length)
    throw new Error('PE file without a certificate table entry');
  return { checksumAt: optional + 64, securityDirAt: directories + 4 * 8 };
}

/** The certificate table (Authenticode signatures) of a PE file: file offset and size, size 0 if none. */
export function certificateTable(file: Buffer): { offset: number; size: number } {
  const { securityDirAt } = peLayout(file);
  return { offset: file.readUInt32LE(securityDirAt), size: file.readUInt32LE(securityDirAt + 4) };
}

/**
 * `file` without its Authenticode signature: the certificate table entry zeroed and the table
 * cut off the end of the file. A table that is not at the end is refused (not what a signed
 * node.exe has; cutting it out would move everything after it).
 */
export function withoutSignature(file: Buffer): Buffer {
  const { offset, size } = certificateTable(file);
  if (size === 0) return file;
  const end = offset + size;
  // The table is padded to 8 bytes; a signer may leave that padding past its recorded size.
  if (end > file.length || file.length - end >= 8)
    throw new Error(`the certificate table (offset ${offset}, ${size} bytes) is not at the end of the file`);
  const out = Buffer.from(file.subarray(0, offset));
  out.fill(0, peLayout(out).securityDirAt, peLayout(out).securityDirAt + 8);
  return withChecksum(out);
}

/** The PE header checksum of `file`: 16-bit one's-complement-style sum, checksum field skipped, plus the length. */
export function peChecksum(file: Buffer): number {
  const { checksumAt } = peLayout(file);
  let sum = 0;
  for (let i = 0; i < file.length; i += 2) {
    if (i === checksumAt || i === checksumAt + 2) continue;
    sum += i + 1 < file.length ? file.readUInt16LE(i) : file[i]!;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum + file.length) >>> 0;
}

/** `file` with its header checksum set to the right value (in place). */
export function withChecksum(file: Buffer): Buffer {
  file.writeUInt32LE(peChecksum(file), peLayout(file).checksumAt);
  return file;
}
