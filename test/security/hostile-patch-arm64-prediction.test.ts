/**
 * Hostile patch of format notsotuf-diff-2 with arm64 reference prediction (kind 8,
 * src/diff/ref-predict.ts): an attacker with the targets key publishes a patch whose header (with
 * a valid checksum) has an arm64 region of a bad parameter, one outside its entry, or regions at
 * addresses near 2^53 whose predictions point nowhere. The patch engine refuses each (PATCH_CORRUPT
 * for the header, PATCH_RESULT_MISMATCH for a result that is not the signed one), the client falls
 * back to the full archive, and nothing half-written is left. See test/support/hostile-patch-suite.ts.
 */
import { handMadePatch } from '../diff/helpers.js';
import { diffStream, wholeTarPatch } from '../diff/helpers.js';
import { KIND_REF_ARM64 } from '../../src/diff/ref-predict.js';
import type { TransformEntry } from '../../src/diff/transform-table.js';
import { hostilePatchTests } from '../support/hostile-patch-suite.js';

function entry(
  length: number,
  bits: number,
  regionLength = length - 512,
  vaddr = 0x100000000,
): TransformEntry {
  return {
    start: 0,
    length,
    regions: [{ kind: KIND_REF_ARM64, start: 512, length: regionLength, vaddr, bits }],
  };
}

hostilePatchTests('hostile format-2 patch with an arm64 prediction region of a bad parameter', (ctx) => ({
  bytes: wholeTarPatch(ctx, { source: [], result: [entry(ctx.newTar.length, 0)] }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

hostilePatchTests('hostile format-2 patch with an arm64 prediction region outside its entry', (ctx) => ({
  bytes: wholeTarPatch(ctx, { source: [entry(ctx.oldTar.length, 1, ctx.oldTar.length)], result: [] }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

hostilePatchTests('hostile arm64 predicting patch with regions at addresses near 2^53', (ctx) => {
  // Every byte of the result from the source (an ADD with zero differences), through regions
  // whose addresses pass 2^53 within the region: predictions must neither crash nor loop, and the
  // result, not the signed one, is refused by its hash.
  const n = Math.min(ctx.oldTar.length, ctx.newTar.length);
  const far = 2 ** 53 - 8192;
  return {
    bytes: handMadePatch({
      source: ctx.oldTar,
      result: ctx.newTar,
      ops:
        n < ctx.newTar.length
          ? [
              [1, n],
              [2, ctx.newTar.length - n],
            ]
          : [[1, n]],
      diff: diffStream(new Uint8Array(n)),
      extra: ctx.newTar.subarray(n),
      transforms: {
        source: [entry(ctx.oldTar.length, 1, undefined, far)],
        result: [entry(ctx.newTar.length, 1, undefined, far)],
      },
    }),
    refusedAt: 'apply',
    code: 'PATCH_RESULT_MISMATCH',
  };
});
