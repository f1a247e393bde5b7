import { UsageError } from '../errors.js';
import { parseVersion } from './version.js';

export const APP_NAME_PATTERN = /^[A-Za-z0-9_-]+$/;
export const ARCHIVE_SUFFIX = '.tar.gz';
export const PATCH_SUFFIX = '.patch';

export type TargetKind = 'archive' | 'patch';

export interface TargetName {
  readonly kind: TargetKind;
  readonly app: string;
  /** Normalised PEP 440 version. */
  readonly version: string;
}

export function checkAppName(name: string): string {
  if (!APP_NAME_PATTERN.test(name)) {
    throw new UsageError(
      'INVALID_APP_NAME',
      `"${name}" is not a valid app name: use letters, digits, "_" and "-" only (e.g. myapp or myapp-win-x64)`,
    );
  }
  return name;
}

export function archiveName(app: string, version: string): string {
  return `${checkAppName(app)}-${parseVersion(version).text}${ARCHIVE_SUFFIX}`;
}

export function patchName(app: string, version: string): string {
  return `${checkAppName(app)}-${parseVersion(version).text}${PATCH_SUFFIX}`;
}

/**
 * Reads `<app>-<version>.tar.gz` or `<app>-<version>.patch`. The app name may itself contain "-"
 * (`myapp-win-x64-1.0.0.tar.gz`): a normalised version never does, so the version is after the last "-".
 * Returns undefined for a name that is not ours (other targets may share a repository).
 */
export function parseTargetName(fileName: string): TargetName | undefined {
  let kind: TargetKind;
  let stem: string;
  if (fileName.endsWith(ARCHIVE_SUFFIX)) {
    kind = 'archive';
    stem = fileName.slice(0, -ARCHIVE_SUFFIX.length);
  } else if (fileName.endsWith(PATCH_SUFFIX)) {
    kind = 'patch';
    stem = fileName.slice(0, -PATCH_SUFFIX.length);
  } else {
    return undefined;
  }
  const dash = stem.lastIndexOf('-');
  if (dash <= 0) return undefined;
  const app = stem.slice(0, dash);
  const versionText = stem.slice(dash + 1);
  if (!APP_NAME_PATTERN.test(app)) return undefined;
  try {
    const version = parseVersion(versionText);
    // Only the canonical spelling is ours, so one release has exactly one name.
    if (version.text !== versionText) return undefined;
    return { kind, app, version: version.text };
  } catch {
    return undefined;
  }
}
