import { createHash, type Hash } from 'node:crypto';
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

/** Strong hash algorithms; a target must list at least one of them (a weak one alone proves nothing). */
const STRONG = ['sha256', 'sha384', 'sha512'];

export function toTrustedTarget(t: TargetFile): TrustedTarget {
  return {
    path: t.path,
    length: t.length,
    hashes: { ...t.hashes },
    custom: t.unrecognizedFields['custom'],
  };
}

/** A hasher for a signed algorithm name, or undefined when Node cannot compute it. */
function hasherFor(algorithm: string): Hash | undefined {
  try {
    return createHash(algorithm);
  } catch {
    return undefined;
  }
}

/**
 * Checks a file against the signed length and every signed hash, streaming (spec 5.7.3).
 * DataError 'TARGET_MISMATCH' when it differs (arbitrary-software attack or a corrupt download), when
 * no strong hash is listed, or when one listed hash cannot be computed here: a hash that was not
 * checked is not treated as matching (as python-tuf, go-tuf and tuf-js do, for targets and metadata).
 */
export async function verifyTargetFile(path: string, target: TrustedTarget): Promise<void> {
  const algorithms = Object.keys(target.hashes);
  if (!algorithms.some((a) => STRONG.includes(a)))
    throw new DataError(
      'TARGET_MISMATCH',
      `The signed metadata of ${target.path} lists no supported hash (sha256, sha384 or sha512), so the ` +
        `file cannot be verified. Tell the publisher.`,
    );
  const hashers = algorithms.map((a) => {
    const hasher = hasherFor(a);
    if (hasher === undefined)
      throw new DataError(
        'TARGET_MISMATCH',
        `The signed metadata of ${target.path} lists a ${a} hash, which this client cannot compute, so ` +
          `the file cannot be fully verified and was refused. Tell the publisher to list only hashes such ` +
          `as sha256 or sha512.`,
      );
    return hasher;
  });
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
    const signed = target.hashes[a];
    if (typeof signed !== 'string' || got !== signed.toLowerCase())
      throw new DataError(
        'TARGET_MISMATCH',
        `${target.path} does not match its signed ${a} hash: the server or a mirror sent different ` +
          `bytes (arbitrary-software attack or corruption). The file was refused.`,
      );
  });
}
