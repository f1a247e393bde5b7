import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { TargetFile } from '@tufjs/models';
import { DataError, InstallError, messageOf } from '../../errors.js';

/** A target as signed in trusted targets metadata: the only facts about a file the client believes. */
export interface TrustedTarget {
  path: string;
  length: number;
  hashes: Record<string, string>;
  /** The signed `custom` field (parse it with core/custom-metadata before use). */
  custom: unknown;
}

/** Hash algorithms we can check; a target must list at least one of them. */
const SUPPORTED = ['sha256', 'sha512'] as const;

export function toTrustedTarget(t: TargetFile): TrustedTarget {
  return {
    path: t.path,
    length: t.length,
    hashes: { ...t.hashes },
    custom: t.unrecognizedFields['custom'],
  };
}

/**
 * Checks a file against the signed length and every supported signed hash, streaming (spec 5.7.3).
 * DataError 'TARGET_MISMATCH' when it differs (arbitrary-software attack or a corrupt download).
 */
export async function verifyTargetFile(path: string, target: TrustedTarget): Promise<void> {
  const algorithms = SUPPORTED.filter((a) => typeof target.hashes[a] === 'string');
  if (algorithms.length === 0)
    throw new DataError(
      'TARGET_MISMATCH',
      `The signed metadata of ${target.path} lists no supported hash (sha256 or sha512), so the file ` +
        `cannot be verified. Tell the publisher.`,
    );
  const hashers = algorithms.map((a) => createHash(a));
  let length = 0;
  try {
    for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
      length += chunk.length;
      // Stop reading a file that is already longer than signed.
      if (length > target.length) break;
      for (const h of hashers) h.update(chunk);
    }
  } catch (cause) {
    throw new InstallError('READ_FAILED', `Could not read ${path} to verify it: ${messageOf(cause)}.`, {
      cause,
    });
  }
  if (length !== target.length)
    throw new DataError(
      'TARGET_MISMATCH',
      `${target.path} has ${length > target.length ? 'more than' : 'only'} ${length} bytes where the signed ` +
        `metadata says ${target.length}. The file was refused; download it again.`,
    );
  algorithms.forEach((a, i) => {
    const got = hashers[i]!.digest('hex');
    if (got !== target.hashes[a]!.toLowerCase())
      throw new DataError(
        'TARGET_MISMATCH',
        `${target.path} does not match its signed ${a} hash: the server or a mirror sent different ` +
          `bytes (arbitrary-software attack or corruption). The file was refused.`,
      );
  });
}
