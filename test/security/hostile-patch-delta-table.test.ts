/**
 * Hostile patch of format notsotuf-diff-2 with a DELTA table region (kind 6: a sorted table such as
 * an ELF .eh_frame_hdr or a PE .pdata, each record stored as its difference from the previous one;
 * src/diff/exe-transform.ts): an attacker with the targets key publishes a patch whose header (with
 * a valid checksum) has such a region outside its entry, one running past the end of the archive,
 * or a bad parameter (records of 0 or 4 words, an address where none belongs). The patch engine
 * refuses each before writing anything (PATCH_CORRUPT), the client falls back to the full archive,
 * and nothing half-written is left. See test/support/hostile-patch-suite.ts.
 */
import { KIND_DELTA } from '../../src/diff/exe-transform.js';
import { KIND_REF_DATA } from '../../src/diff/ref-predict.js';
import type { Region } from '../../src/diff/exe-transform.js';
import { wholeTarPatch } from '../diff/helpers.js';
import { hostilePatchTests } from '../support/hostile-patch-suite.js';

const delta = (start: number, length: number, bits = 2, vaddr = 0): Region => ({
  kind: KIND_DELTA,
  start,
  length,
  vaddr,
  bits,
});

hostilePatchTests('hostile format-2 patch with a DELTA table outside its entry', (ctx) => ({
  bytes: wholeTarPatch(ctx, {
    source: [],
    result: [{ start: 512, length: 1024, regions: [delta(1024, 1024)] }],
  }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

hostilePatchTests('hostile format-2 patch with a DELTA table past the end of the archive', (ctx) => ({
  bytes: wholeTarPatch(ctx, {
    source: [{ start: 0, length: ctx.oldTar.length, regions: [delta(512, ctx.oldTar.length)] }],
    result: [],
  }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

for (const [what, region] of [
  ['records of no words', delta(512, 1024, 0)],
  ['records of 4 words', delta(512, 1024, 4)],
  ['an address', delta(512, 1024, 2, 0x400000)],
] as const) {
  hostilePatchTests(`hostile format-2 patch with a DELTA table of ${what}`, (ctx) => ({
    bytes: wholeTarPatch(ctx, {
      source: [],
      // Beside a prediction region, as createPatch writes it for an executable.
      result: [
        {
          start: 0,
          length: ctx.newTar.length,
          regions: [{ kind: KIND_REF_DATA, start: 0, length: 512, vaddr: 0, bits: 0 }, region],
        },
      ],
    }),
    refusedAt: 'apply',
    code: 'PATCH_CORRUPT',
  }));
}
