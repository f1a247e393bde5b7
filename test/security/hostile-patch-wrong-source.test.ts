/**
 * Hostile patch, wrong source: an attacker with the targets key publishes a patch made from another
 * archive than the installed version's, either with the signed metadata still naming the real
 * source (the patch engine refuses it: its header names another source) or with signed metadata
 * that lies about the source (the plan refuses the chain: it does not start from the installed
 * tar). Either way the client installs from the full archive and nothing half-written is left.
 * See test/support/hostile-patch-suite.ts.
 */
import { createHash } from 'node:crypto';
import { hostilePatchTests } from '../support/hostile-patch-suite.js';
import { handMadePatch } from '../diff/helpers.js';

function otherSource(oldTar: Buffer): Buffer {
  const other = Buffer.from(oldTar);
  other[1000] = other[1000]! ^ 0xff;
  return other;
}

hostilePatchTests('hostile patch made from another source than signed', ({ oldTar, newTar }) => ({
  bytes: handMadePatch({
    source: otherSource(oldTar),
    result: newTar,
    ops: [[2, newTar.length]],
    extra: newTar,
  }),
  refusedAt: 'apply',
  code: 'PATCH_METADATA_MISMATCH',
}));

hostilePatchTests('hostile patch whose signed metadata lies about its source', ({ oldTar, newTar }) => {
  const other = otherSource(oldTar);
  return {
    bytes: handMadePatch({ source: other, result: newTar, ops: [[2, newTar.length]], extra: newTar }),
    edit: (meta) => {
      meta.source = {
        version: '1.0.0',
        sha256: createHash('sha256').update(other).digest('hex'),
        length: other.length,
      };
    },
    refusedAt: 'plan',
  };
});
