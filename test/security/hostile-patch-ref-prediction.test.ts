/**
 * Hostile patch of format notsotuf-diff-2 with reference prediction (kinds 4 and 5,
 * src/diff/ref-predict.ts): an attacker with the targets key publishes a patch whose header (with a
 * valid checksum) has a prediction region with a bad parameter, one outside its entry, an unknown
 * region kind, a symbol table (kind 7) of a bad parameter or whose string table lies outside its
 * entry, or a control stream that runs past the result (read before anything is written,
 * for the prediction's map). The patch engine refuses each with PATCH_CORRUPT, the client falls
 * back to the full archive, and nothing half-written is left. See test/support/hostile-patch-suite.ts.
 */
import { KIND_REF_DATA, KIND_REF_SYMTAB, KIND_REF_X86 } from '../../src/diff/ref-predict.js';
import type { TransformEntry } from '../../src/diff/transform-table.js';
import { wholeTarPatch } from '../diff/helpers.js';
import { hostilePatchTests } from '../support/hostile-patch-suite.js';

function entry(length: number, kind: number, bits: number, regionLength = length - 512): TransformEntry {
  return { start: 0, length, regions: [{ kind, start: 512, length: regionLength, vaddr: 0x400000, bits }] };
}

hostilePatchTests('hostile format-2 patch with a prediction region of a bad parameter', (ctx) => ({
  bytes: wholeTarPatch(ctx, { source: [], result: [entry(ctx.newTar.length, KIND_REF_X86, 2)] }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

hostilePatchTests('hostile format-2 patch with a prediction region outside its entry', (ctx) => ({
  bytes: wholeTarPatch(ctx, {
    source: [entry(ctx.oldTar.length, KIND_REF_DATA, 1, ctx.oldTar.length)],
    result: [],
  }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

hostilePatchTests('hostile format-2 patch with an unknown region kind', (ctx) => ({
  bytes: wholeTarPatch(ctx, { source: [], result: [entry(ctx.newTar.length, 0xfe, 0)] }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

hostilePatchTests('hostile predicting patch whose control stream runs past the result', (ctx) => ({
  bytes: wholeTarPatch(
    ctx,
    {
      source: [entry(ctx.oldTar.length, KIND_REF_DATA, 1)],
      result: [entry(ctx.newTar.length, KIND_REF_DATA, 1)],
    },
    { ops: [[1, ctx.newTar.length + 1]] },
  ),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

// Kind 7 (an ELF symbol table): its parameter byte must be 0, and its string table (`vaddr`, an
// offset from the entry's start) must lie inside its entry.
hostilePatchTests('hostile format-2 patch with a symbol table region of a bad parameter', (ctx) => ({
  bytes: wholeTarPatch(ctx, {
    source: [],
    result: [
      {
        start: 0,
        length: ctx.newTar.length,
        regions: [{ kind: KIND_REF_SYMTAB, start: 512, length: 1024, vaddr: 2048, bits: 1 }],
      },
    ],
  }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

hostilePatchTests(
  'hostile format-2 patch with a symbol table whose strings lie outside its entry',
  (ctx) => ({
    bytes: wholeTarPatch(ctx, {
      source: [
        {
          start: 0,
          length: 4096,
          regions: [{ kind: KIND_REF_SYMTAB, start: 512, length: 1024, vaddr: 4096, bits: 0 }],
        },
      ],
      result: [],
    }),
    refusedAt: 'apply',
    code: 'PATCH_CORRUPT',
  }),
);
