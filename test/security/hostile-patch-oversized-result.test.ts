/**
 * Hostile patch, result over the signed size: an attacker with the targets key publishes a patch
 * whose header promises exactly the signed 1.1.0 tar but whose program writes more bytes (4 KiB
 * more, or 2^40 bytes: a decompression bomb aimed at the disk). The patch engine stops at the
 * promised length and refuses it, the client falls back to the full archive, and nothing
 * half-written is left. See test/support/hostile-patch-suite.ts.
 */
import { hostilePatchTests } from '../support/hostile-patch-suite.js';
import { handMadePatch } from '../diff/helpers.js';

hostilePatchTests('hostile patch writing 4 KiB more than its signed result', ({ oldTar, newTar }) => {
  const more = Buffer.concat([newTar, Buffer.alloc(4096, 0x41)]);
  return {
    bytes: handMadePatch({ source: oldTar, result: newTar, ops: [[2, more.length]], extra: more }),
    refusedAt: 'apply',
    code: 'PATCH_CORRUPT',
  };
});

hostilePatchTests('hostile patch copying 2^40 bytes from its source', ({ oldTar, newTar }) => ({
  bytes: handMadePatch({ source: oldTar, result: newTar, ops: [[0, 2 ** 40]] }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));
