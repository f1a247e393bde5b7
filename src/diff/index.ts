export { PATCH_FORMAT, type Digest } from './format.js';
export { createPatch, type PatchInfo, type CreatePatchOptions } from './create-patch.js';
export { applyPatch, type ApplyPatchOptions } from './apply-patch.js';
export { readPatchHeader } from './read-patch-header.js';
