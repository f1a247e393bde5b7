import { createHash } from 'node:crypto';
import { entryHints } from './entry-hints.js';
import { digestBytes } from '../io/digest.js';
import { readWhole, writeAtomically } from './file-io.js';
import { CHECKSUM_OFFSET, COMPRESSION_BROTLI, encodeHeader, HEADER_LENGTH, type Digest } from './format.js';
import { matchArchives } from './matcher.js';
import { StreamWriter } from './stream-writer.js';

export interface PatchInfo {
  readonly source: Digest;
  readonly result: Digest;
  readonly patchLength: number;
  readonly patchSha256: string;
}

export interface CreatePatchOptions {
  readonly signal?: AbortSignal;
  /** Sample every `step`-th window of the old archive (default 8: less memory than 4, about as good). */
  readonly step?: number;
}

/**
 * Creates a patch that turns `oldTarPath` into `newTarPath` and writes it to `patchPath` (through a
 * temp file and a rename). Both inputs are read into memory; the index adds about half a byte per
 * old byte.
 */
export async function createPatch(
  oldTarPath: string,
  newTarPath: string,
  patchPath: string,
  options: CreatePatchOptions = {},
): Promise<PatchInfo> {
  const { signal } = options;
  const old = await readWhole(oldTarPath, 'old archive');
  const nu = await readWhole(newTarPath, 'new archive');
  signal?.throwIfAborted();
  const source = digestBytes(old);
  const result = digestBytes(nu);
  const hints = entryHints(old, nu);
  const writer = new StreamWriter(old, nu);
  let streams;
  try {
    await matchArchives(old, nu, hints, writer, { step: options.step ?? 8, signal });
    streams = await writer.finish();
  } catch (error) {
    writer.destroy();
    throw error;
  }
  const length = (parts: Buffer[]): number => parts.reduce((n, p) => n + p.length, 0);
  const header = encodeHeader({
    source,
    result,
    compression: COMPRESSION_BROTLI,
    compressed: {
      control: length(streams.control),
      diff: length(streams.diff),
      extra: length(streams.extra),
    },
    uncompressed: {
      control: writer.control.uncompressed,
      diff: writer.diff.uncompressed,
      extra: writer.extra.uncompressed,
    },
  });
  const body = [...streams.control, ...streams.diff, ...streams.extra];
  const checksum = createHash('sha256').update(header.subarray(0, CHECKSUM_OFFSET));
  for (const b of body) checksum.update(b);
  checksum.digest().copy(header, CHECKSUM_OFFSET);
  const whole = createHash('sha256').update(header);
  for (const b of body) whole.update(b);
  signal?.throwIfAborted();
  await writeAtomically(patchPath, [header, ...body]);
  return { source, result, patchLength: HEADER_LENGTH + length(body), patchSha256: whole.digest('hex') };
}
