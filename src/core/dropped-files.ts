/**
 * Whether a new release drops most of the previous release's files: the mark of a wrong build
 * folder (a sub-folder, an unfinished build) rather than of a real new version. Pure: it takes the
 * two lists of file paths (files and links, not folders) and decides nothing else.
 */
export interface DroppedFiles {
  /** Paths of the previous release that the new one does not have, in the previous order. */
  readonly missing: readonly string[];
  readonly previousCount: number;
}

export function droppedFiles(previous: readonly string[], next: ReadonlySet<string>): DroppedFiles {
  return { missing: previous.filter((p) => !next.has(p)), previousCount: previous.length };
}

/** More than half of the previous files gone. */
export function dropsMostFiles(d: DroppedFiles): boolean {
  return d.previousCount > 0 && d.missing.length * 2 > d.previousCount;
}
