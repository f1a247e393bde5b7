export { packFolder, packTar, hashFolderAsTar, GZIP_LEVEL } from './pack.js';
export type { PackResult, PackOptions } from './pack.js';
export { gunzipTo } from './gunzip.js';
export { folderFilePaths, tarFilePaths } from './file-paths.js';
export { DEFAULT_UNPACK_LIMITS } from './unpack-limits.js';
export type { UnpackLimits } from './unpack-limits.js';
export { FIXED_MTIME } from './tar-format.js';
export { unpackArchive } from './unpack.js';
export type { UnpackOptions, UnpackResult } from './unpack.js';
