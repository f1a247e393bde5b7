/**
 * Hostile patch of format notsotuf-diff-2: an attacker with the targets key publishes a patch whose
 * header (with a valid checksum) has a machine-code transform region outside its tar entry, a
 * transformed entry past the end of the archive, or an unknown format (compression) byte. The patch
 * engine refuses each before writing anything (PATCH_CORRUPT), the client falls back to the full
 * archive, and nothing half-written is left. See test/support/hostile-patch-suite.ts.
 */
import { KIND_ARM64, KIND_X86 } from '../../src/diff/exe-transform.js';
import { hostilePatchTests } from '../support/hostile-patch-suite.js';
import { wholeTarPatch } from '../diff/helpers.js';

hostilePatchTests('hostile format-2 patch with a transform region outside its entry', (ctx) => ({
  bytes: wholeTarPatch(ctx, {
    source: [],
    result: [
      {
        start: 512,
        length: 1024,
        regions: [{ kind: KIND_ARM64, start: 1024, length: 1024, vaddr: 0, bits: 0 }],
      },
    ],
  }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

hostilePatchTests('hostile format-2 patch with a transformed entry past the end of the archive', (ctx) => ({
  bytes: wholeTarPatch(ctx, {
    source: [
      {
        start: 512,
        length: ctx.oldTar.length,
        regions: [{ kind: KIND_X86, start: 512, length: ctx.oldTar.length, vaddr: 4096, bits: 32 }],
      },
    ],
    result: [],
  }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

hostilePatchTests('hostile format-2 patch with an unknown format byte', (ctx) => ({
  bytes: wholeTarPatch(ctx, { source: [], result: [] }, { compressionByte: 2 }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));
