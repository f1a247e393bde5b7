export { PATCH_FORMAT, type Digest } from './format.js';
export { PATCH_FORMAT_2 } from './format-2.js';
/** The patch formats applyPatch reads (a client lists them in its update plan). */
export const PATCH_FORMATS: readonly string[] = ['notsotuf-diff-1', 'notsotuf-diff-2'];
export {
  createPatch,
  type PatchInfo,
  type CreatePatchOptions,
  type PatchFormatVersion,
} from './create-patch.js';
export { applyPatch, type ApplyPatchOptions } from './apply-patch.js';
export { readPatchHeader } from './read-patch-header.js';
