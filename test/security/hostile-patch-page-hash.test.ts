/**
 * Hostile patch of format notsotuf-diff-2 with a page hash region (kind 9, src/diff/page-hash.ts):
 * an attacker with the targets key publishes a patch whose header (with a valid checksum) has a
 * page hash region of a bad page size, a length that is not one hash per page, slots that lie
 * among the bytes they hash, or two in one entry (which would hash the same bytes twice); or a
 * well-formed one over bytes it does not fit. The patch engine refuses each (PATCH_CORRUPT for the
 * header, PATCH_RESULT_MISMATCH for a result that is not the signed one), the client falls back to
 * the full archive, and nothing half-written is left. See test/support/hostile-patch-suite.ts.
 */
import { KIND_PAGE_HASH } from '../../src/diff/page-hash.js';
import type { Region } from '../../src/diff/exe-transform.js';
import type { TransformEntry } from '../../src/diff/transform-table.js';
import { wholeTarPatch } from '../diff/helpers.js';
import { hostilePatchTests } from '../support/hostile-patch-suite.js';

/** A page hash region of the whole result tar: 4096 bytes hashed in pages of 2^bits, slots at 8192. */
function result(length: number, over: Partial<Region> = {}, extra: Region[] = []): TransformEntry[] {
  const r: Region = { kind: KIND_PAGE_HASH, start: 8192, length: 32, vaddr: 4096, bits: 12, ...over };
  return [{ start: 0, length, regions: [r, ...extra] }];
}

hostilePatchTests('hostile format-2 patch with a page hash region of a bad page size', (ctx) => ({
  bytes: wholeTarPatch(ctx, { source: [], result: result(ctx.newTar.length, { bits: 11, length: 64 }) }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

hostilePatchTests('hostile format-2 patch with page hashes of the wrong length', (ctx) => ({
  bytes: wholeTarPatch(ctx, { source: [], result: result(ctx.newTar.length, { length: 64 }) }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

hostilePatchTests('hostile format-2 patch with page hashes among the bytes they hash', (ctx) => ({
  bytes: wholeTarPatch(ctx, { source: [], result: result(ctx.newTar.length, { vaddr: 8193, length: 96 }) }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

hostilePatchTests('hostile format-2 patch with two page hash regions in one entry', (ctx) => ({
  bytes: wholeTarPatch(ctx, {
    source: [],
    result: result(ctx.newTar.length, {}, [
      { kind: KIND_PAGE_HASH, start: 9000, length: 32, vaddr: 4096, bits: 12 },
    ]),
  }),
  refusedAt: 'apply',
  code: 'PATCH_CORRUPT',
}));

hostilePatchTests('hostile format-2 patch with page hashes over bytes they do not fit', (ctx) => ({
  // Well-formed: the applier XORs the slots with the hashes of the result's first page, so the
  // result is not the signed one.
  bytes: wholeTarPatch(ctx, { source: [], result: result(ctx.newTar.length) }),
  refusedAt: 'apply',
  code: 'PATCH_RESULT_MISMATCH',
}));
