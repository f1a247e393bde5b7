import { open } from 'node:fs/promises';
import { DataError } from '../errors.js';
import { fsError } from './file-io.js';
import { decodeAnyHeader, HEADER_2_READ } from './format-2.js';
import { patchLengthOf, type Digest, type PatchHeader } from './format.js';

/** Reads and checks the header, and that the file has the length the header announces. */
export async function readPatchHeaderFull(patchPath: string): Promise<{ header: PatchHeader; raw: Buffer }> {
  let fh;
  try {
    fh = await open(patchPath, 'r');
    const { size } = await fh.stat();
    let raw = Buffer.alloc(Math.min(size, HEADER_2_READ));
    await fh.read(raw, 0, raw.length, 0);
    let header = decodeAnyHeader(raw, size);
    if (typeof header === 'number') {
      // A format-2 header with a long transform table (its length is bounded by the decoder).
      raw = Buffer.alloc(header);
      await fh.read(raw, 0, raw.length, 0);
      header = decodeAnyHeader(raw, size);
      if (typeof header === 'number') throw new Error('patch header grew while read');
    }
    const want = patchLengthOf(header);
    if (size !== want) {
      throw new DataError(
        size < want ? 'PATCH_TRUNCATED' : 'PATCH_CORRUPT',
        size < want
          ? `the patch ${patchPath} is truncated (${size} of ${want} bytes); download it again`
          : `the patch ${patchPath} has ${size - want} unexpected trailing bytes; download it again`,
      );
    }
    return { header, raw };
  } catch (error) {
    throw fsError(error, patchPath, 'patch');
  } finally {
    await fh?.close();
  }
}

/** The format name and the source/result digests a patch declares (not yet verified). */
export async function readPatchHeader(
  patchPath: string,
): Promise<{ format: string; source: Digest; result: Digest }> {
  const { header } = await readPatchHeaderFull(patchPath);
  return { format: header.format, source: header.source, result: header.result };
}
