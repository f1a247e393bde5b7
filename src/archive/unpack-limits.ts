/** Bounds on what unpack accepts from an archive; pack refuses folders that exceed the defaults. */
export interface UnpackLimits {
  /** Entries of any kind (files, folders, symlinks). */
  readonly maxEntries: number;
  /** Sum of the sizes of all files, in bytes. */
  readonly maxTotalBytes: number;
  /** Size of one file, in bytes. */
  readonly maxEntryBytes: number;
  /** Length of an entry path or symlink target, in UTF-8 bytes. */
  readonly maxPathLength: number;
}

const GiB = 1024 * 1024 * 1024;

/** Generous for 1 GB apps; a caller with bigger apps passes its own. */
export const DEFAULT_UNPACK_LIMITS: UnpackLimits = Object.freeze({
  maxEntries: 500_000,
  maxTotalBytes: 8 * GiB,
  maxEntryBytes: 4 * GiB,
  maxPathLength: 1024,
});

/** Largest pax extended header we read, in bytes (ours hold at most a path, a link and a size). */
export const MAX_PAX_HEADER_BYTES = 64 * 1024;
