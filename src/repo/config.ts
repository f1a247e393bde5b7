import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { UsageError, messageOf } from '../errors.js';
import { checkAppName } from '../core/target-name.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { checkExpiry } from './expiry.js';
import type { Expiry } from './expiry.js';

/**
 * `notsotuf.json`, written by `init` and read by every publisher command. Paths in it are relative
 * to the file's folder, so a project can be moved or checked out anywhere.
 */
export const CONFIG_FILE = 'notsotuf.json';
const MAX_CONFIG_BYTES = 1024 * 1024;

export interface ConfigFile {
  readonly app: string;
  readonly repository: string;
  readonly keys: string;
  readonly cache: string;
  readonly expiry: Expiry;
}

/** A loaded config: the file's values with absolute paths. */
export interface RepoConfig {
  /** Absolute path of notsotuf.json. */
  readonly file: string;
  /** The default app name for `release add`. */
  readonly app: string;
  readonly repository: string;
  readonly keys: string;
  /** Publisher-side cache (uncompressed tars of releases, for patches). */
  readonly cache: string;
  readonly expiry: Expiry;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function resolveConfig(file: string, data: ConfigFile): RepoConfig {
  const dir = dirname(file);
  return {
    file,
    app: data.app,
    repository: resolve(dir, data.repository),
    keys: resolve(dir, data.keys),
    cache: resolve(dir, data.cache),
    expiry: data.expiry,
  };
}

/** Parses notsotuf.json's text (throws UsageError naming the bad field). */
export function parseConfig(file: string, text: string): RepoConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new UsageError('BAD_CONFIG', `${file} is not valid JSON: ${messageOf(cause)}`, { cause });
  }
  if (!isRecord(json)) throw new UsageError('BAD_CONFIG', `${file} must hold a JSON object`);
  const str = (field: string, fallback?: string): string => {
    const v = json[field] ?? fallback;
    if (typeof v !== 'string' || v.length === 0) {
      throw new UsageError('BAD_CONFIG', `${file}: "${field}" must be a non-empty string`);
    }
    return v;
  };
  const app = checkAppName(str('app'));
  const expiry = checkExpiry(isRecord(json.expiry) ? json.expiry : {});
  return resolveConfig(file, {
    app,
    repository: str('repository', 'repository'),
    keys: str('keys', 'keys'),
    cache: str('cache', '.notsotuf-cache'),
    expiry,
  });
}

/** Finds and reads the config: `explicit` (a file or a folder holding one), else `cwd/notsotuf.json`. */
export async function loadConfig(cwd: string, explicit?: string): Promise<RepoConfig> {
  let file = explicit === undefined ? join(cwd, CONFIG_FILE) : resolve(cwd, explicit);
  try {
    if ((await stat(file)).isDirectory()) file = join(file, CONFIG_FILE);
  } catch {
    // reported below
  }
  let text: Buffer;
  try {
    text = await readFile(file);
  } catch (cause) {
    throw new UsageError(
      'NO_CONFIG',
      `no ${CONFIG_FILE} at ${file}: run "notsotuf init" here, or pass --config PATH`,
      { cause },
    );
  }
  if (text.length > MAX_CONFIG_BYTES) throw new UsageError('BAD_CONFIG', `${file} is too large`);
  return parseConfig(file, text.toString('utf8'));
}

function rel(from: string, to: string): string {
  const r = relative(from, to);
  return r === '' ? '.' : isAbsolute(r) ? r : r.split('\\').join('/');
}

export async function writeConfig(config: RepoConfig): Promise<void> {
  const dir = dirname(config.file);
  const data: ConfigFile = {
    app: config.app,
    repository: rel(dir, config.repository),
    keys: rel(dir, config.keys),
    cache: rel(dir, config.cache),
    expiry: config.expiry,
  };
  await writeFileAtomic(config.file, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o644, makeParent: true });
}
