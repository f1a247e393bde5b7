/**
 * Rules for entry paths and symlink targets, shared by pack (which refuses to write what unpack
 * would refuse) and unpack (which must not trust the archive). Pure functions over strings.
 */

export type PathProblem =
  | { readonly code: 'ARCHIVE_ABSOLUTE_PATH'; readonly rule: string }
  | { readonly code: 'ARCHIVE_DOTDOT'; readonly rule: string }
  | { readonly code: 'ARCHIVE_BAD_PATH'; readonly rule: string };

const DRIVE = /^[A-Za-z]:/;

/**
 * Checks one entry path as stored in the archive (without the trailing `/` of directories).
 * Returns undefined when it is a plain relative path of `/`-separated, non-empty segments.
 */
export function pathProblem(path: string): PathProblem | undefined {
  if (path.length === 0) return { code: 'ARCHIVE_BAD_PATH', rule: 'an entry path must not be empty' };
  if (path.includes('\0')) return { code: 'ARCHIVE_BAD_PATH', rule: 'an entry path must not contain NUL' };
  if (path.startsWith('/')) {
    return { code: 'ARCHIVE_ABSOLUTE_PATH', rule: 'entry paths must be relative (no leading "/")' };
  }
  if (DRIVE.test(path)) {
    return { code: 'ARCHIVE_ABSOLUTE_PATH', rule: 'entry paths must not start with a Windows drive letter' };
  }
  if (path.includes('\\')) {
    // a backslash is a separator on Windows: "a\..\..\x" would walk out there
    return { code: 'ARCHIVE_BAD_PATH', rule: 'entry paths must not contain "\\" (use "/")' };
  }
  for (const segment of path.split('/')) {
    if (segment === '..') return { code: 'ARCHIVE_DOTDOT', rule: 'entry paths must not contain ".."' };
    if (segment === '' || segment === '.') {
      return { code: 'ARCHIVE_BAD_PATH', rule: 'entry paths must not contain empty or "." segments' };
    }
  }
  return undefined;
}

/** True when a symlink target is absolute on any platform we install on. */
export function isAbsoluteTarget(target: string): boolean {
  return target.startsWith('/') || target.startsWith('\\') || DRIVE.test(target);
}

/**
 * The key two paths share when a case-insensitive (Windows, default macOS) file system would see
 * them as the same file: NFC-normalised (macOS stores NFD), lower-cased, and without the trailing
 * dots and spaces Windows strips from each name ("lib." is "lib" there).
 */
export function caseFoldKey(path: string): string {
  return path
    .normalize('NFC')
    .toLowerCase()
    .split('/')
    .map((segment) => segment.replace(/[. ]+$/, ''))
    .join('/');
}

/** Names Windows maps to devices whatever the extension (CON, NUL, COM1, LPT1.txt, ...). */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])(\..*)?$/i;

/** A rule a Windows path breaks beyond the portable ones (device names, ":" streams), if any. */
export function windowsPathProblem(path: string): string | undefined {
  if (path.includes(':')) return 'entry paths must not contain ":" on Windows (NTFS alternate data streams)';
  for (const segment of path.split('/')) {
    if (WINDOWS_DEVICE.test(segment.replace(/[. ]+$/, ''))) {
      return `"${segment}" names a device on Windows`;
    }
  }
  return undefined;
}

export interface LinkEntry {
  readonly type: 'file' | 'dir' | 'symlink';
  readonly linkTarget?: string;
}

const MAX_LINK_HOPS = 40;

/**
 * Resolves the symlink at `linkPath` inside a virtual tree (every entry of the archive or folder,
 * keyed by path) the way an operating system would: following symlinks it meets, and applying ".."
 * to the physical parent. Returns a reason when the resolution leaves the root (or loops); else
 * undefined. A lexical check is not enough: with `x -> .`, the target `x/..` is the parent of the
 * root. Missing components are resolved lexically (the link dangles, harmlessly).
 */
export function symlinkEscape(
  tree: ReadonlyMap<string, LinkEntry>,
  linkPath: string,
  target: string,
): string | undefined {
  if (isAbsoluteTarget(target)) return 'its target is absolute';
  if (target.includes('\\')) return 'its target contains "\\"';
  const stack = linkPath.split('/');
  stack.pop(); // the link's own name: targets are relative to its folder
  const queue = target.split('/');
  let hops = 0;
  while (queue.length > 0) {
    const part = queue.shift() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.length === 0) return 'its target leaves the folder';
      stack.pop();
      continue;
    }
    stack.push(part);
    const node = tree.get(stack.join('/'));
    if (node?.type === 'symlink') {
      if (++hops > MAX_LINK_HOPS) return 'its target loops through too many symlinks';
      const next = node.linkTarget ?? '';
      if (isAbsoluteTarget(next) || next.includes('\\')) return 'its target goes through an absolute symlink';
      stack.pop();
      queue.unshift(...next.split('/'));
    }
  }
  return undefined;
}
