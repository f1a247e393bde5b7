import { DataError } from '../errors.js';
import { checkAppName } from './target-name.js';
import { parseVersion } from './version.js';

/**
 * The signed custom metadata notsotuf puts on each target, under `custom.notsotuf` in targets.json
 * (so the targets role signs it). This module is the one place where that untrusted JSON becomes
 * typed: everything else takes the readonly values returned here.
 */

export interface Digest {
  readonly sha256: string;
  readonly length: number;
}

export interface ArchiveMeta {
  readonly kind: 'archive';
  readonly app: string;
  readonly version: string;
  /** The uncompressed tar inside the .tar.gz: what patches start from and produce. */
  readonly tar: Digest;
  /** A required release stops an update chain there. */
  readonly required: boolean;
  /** Percentage (0-100] of installs that are offered this release; 100 when absent. */
  readonly rollout: number;
  /** Free-form publisher fields (changelog, release notes URL, ...), shown to the app as is. */
  readonly user: Readonly<Record<string, unknown>>;
}

export interface PatchMeta {
  readonly kind: 'patch';
  readonly app: string;
  /** The version this patch produces. */
  readonly version: string;
  /** Patch format name, e.g. `notsotuf-diff-1`. */
  readonly format: string;
  readonly source: Digest & { readonly version: string };
  readonly result: Digest;
}

export type NotsotufMeta = ArchiveMeta | PatchMeta;

export const CUSTOM_KEY = 'notsotuf';

const SHA256 = /^[0-9a-f]{64}$/;

function fail(target: string, what: string): never {
  throw new DataError('BAD_CUSTOM_METADATA', `signed metadata of target ${target} is invalid: ${what}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function digest(target: string, v: unknown, field: string): Digest {
  if (!isRecord(v)) fail(target, `${field} must be an object`);
  const { sha256, length } = v;
  if (typeof sha256 !== 'string' || !SHA256.test(sha256))
    fail(target, `${field}.sha256 must be 64 hex digits`);
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
    fail(target, `${field}.length must be a non-negative integer`);
  }
  return { sha256, length };
}

function version(target: string, v: unknown, field: string): string {
  if (typeof v !== 'string') fail(target, `${field} must be a string`);
  try {
    return parseVersion(v).text;
  } catch (cause) {
    throw new DataError(
      'BAD_CUSTOM_METADATA',
      `signed metadata of target ${target}: ${field} "${v}" is not a version`,
      {
        cause,
      },
    );
  }
}

/**
 * Reads `custom` of one target. Returns undefined when the target carries no notsotuf metadata
 * (another tool's file in the same repository); throws DataError when it does but is malformed.
 */
export function parseCustomMetadata(target: string, custom: unknown): NotsotufMeta | undefined {
  if (!isRecord(custom) || !(CUSTOM_KEY in custom)) return undefined;
  const m = custom[CUSTOM_KEY];
  if (!isRecord(m)) fail(target, `${CUSTOM_KEY} must be an object`);
  if (typeof m.app !== 'string') fail(target, 'app must be a string');
  try {
    checkAppName(m.app);
  } catch (cause) {
    throw new DataError('BAD_CUSTOM_METADATA', `signed metadata of target ${target}: bad app name`, {
      cause,
    });
  }
  const app = m.app;
  const ver = version(target, m.version, 'version');
  if (m.kind === 'archive') {
    const required = m.required ?? false;
    if (typeof required !== 'boolean') fail(target, 'required must be true or false');
    const rollout = m.rollout ?? 100;
    if (typeof rollout !== 'number' || !(rollout > 0 && rollout <= 100)) {
      fail(target, 'rollout must be a percentage in (0, 100]');
    }
    const user = m.user ?? {};
    if (!isRecord(user)) fail(target, 'user must be an object');
    return { kind: 'archive', app, version: ver, tar: digest(target, m.tar, 'tar'), required, rollout, user };
  }
  if (m.kind === 'patch') {
    if (typeof m.format !== 'string' || m.format.length === 0) fail(target, 'format must be a string');
    const src = m.source;
    if (!isRecord(src)) fail(target, 'source must be an object');
    return {
      kind: 'patch',
      app,
      version: ver,
      format: m.format,
      source: { ...digest(target, src, 'source'), version: version(target, src.version, 'source.version') },
      result: digest(target, m.result, 'result'),
    };
  }
  fail(target, 'kind must be "archive" or "patch"');
}

/** The `custom` object to put on a target (inverse of parseCustomMetadata). */
export function toCustom(meta: NotsotufMeta): Record<string, unknown> {
  return { [CUSTOM_KEY]: { ...meta } };
}
