import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** sha256 (hex) and length in bytes: how TUF metadata and patch headers name a file's content. */
export interface FileDigest {
  readonly sha256: string;
  readonly length: number;
}

export function digestBytes(bytes: Uint8Array): FileDigest {
  return { sha256: createHash('sha256').update(bytes).digest('hex'), length: bytes.length };
}

/** The hash algorithms files are named by: TUF's sha256 and sha512, and md5 for S3's ETag. */
export type DigestAlgorithm = 'sha256' | 'sha512' | 'md5';

/**
 * sha256 and length of a file, read in 1 MB steps. With `maxLength`, reads at most one byte more
 * than that: enough to tell "too long" without reading a huge file (the length is then
 * `maxLength + 1` and the hash is of that prefix). Errors are the file system's own.
 */
export async function digestFile(
  path: string,
  options: { maxLength?: number; signal?: AbortSignal } = {},
): Promise<FileDigest> {
  const { hex, length } = await hashFile(path, options);
  return { sha256: hex, length };
}

/** Like digestFile, with another `algorithm` than sha256: the hash in hex and the bytes read. */
export async function hashFile(
  path: string,
  options: { algorithm?: DigestAlgorithm; maxLength?: number; signal?: AbortSignal } = {},
): Promise<{ hex: string; length: number }> {
  const limit = options.maxLength === undefined ? Infinity : options.maxLength + 1;
  const fh = await open(path, 'r');
  try {
    const hash = createHash(options.algorithm ?? 'sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    let length = 0;
    while (length < limit) {
      options.signal?.throwIfAborted();
      const want = Math.min(buf.length, limit - length);
      const { bytesRead } = await fh.read(buf, 0, want, length);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      length += bytesRead;
    }
    return { hex: hash.digest('hex'), length };
  } finally {
    await fh.close();
  }
}
