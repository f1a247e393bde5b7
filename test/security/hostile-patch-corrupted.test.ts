/**
 * Hostile patch, corrupted: an attacker with the targets key flips bytes inside the patch streams
 * and recomputes the patch's own checksum, so both the TUF hash and the checksum pass; or writes a
 * well-formed patch program whose output differs from the promised result. The patch engine refuses
 * both (decompression or the result's sha256), the client falls back to the full archive, and
 * nothing half-written is left. See test/support/hostile-patch-suite.ts.
 */
import { createHash } from 'node:crypto';
import { hostilePatchTests } from '../support/hostile-patch-suite.js';
import { handMadePatch, patchLayout, reseal } from '../diff/helpers.js';

hostilePatchTests('hostile patch with flipped stream bytes and a recomputed checksum', ({ patch }) => {
  const bytes = Buffer.from(patch);
  const { checksumOffset, bodyStart } = patchLayout(bytes);
  for (let at = bodyStart + 7; at < bytes.length; at += 97) bytes[at] = bytes[at]! ^ 0x5a;
  reseal(bytes, checksumOffset, bodyStart);
  return { bytes, refusedAt: 'apply', code: 'PATCH_CORRUPT' };
});

hostilePatchTests(
  'hostile patch whose valid program gives other bytes than promised',
  ({ oldTar, newTar }) => {
    const evil = Buffer.from(newTar);
    evil[evil.length >> 1] = evil[evil.length >> 1]! ^ 0xff;
    return {
      bytes: handMadePatch({
        source: oldTar,
        result: evil,
        resultDigest: digestOf(newTar),
        ops: [[2, evil.length]],
        extra: evil,
      }),
      refusedAt: 'apply',
      code: 'PATCH_RESULT_MISMATCH',
    };
  },
);

function digestOf(b: Buffer): { sha256: string; length: number } {
  return { sha256: createHash('sha256').update(b).digest('hex'), length: b.length };
}
