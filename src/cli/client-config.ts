import { open, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ClientOptions } from '../client/index.js';
import { CLIENT_LIMITS } from '../core/limits.js';
import { parseChannel, parseVersion } from '../core/version.js';
import { UsageError } from '../errors.js';
import type { CommandContext } from './command.js';

/**
 * Settings of `notsotuf check` / `notsotuf update`, from a small JSON file (`--config FILE`) and/or
 * flags (a flag wins over the file). Paths in the file are relative to the file; paths in flags to
 * the working folder. This is how apps written in other languages ship and call the client.
 */
export const CLIENT_CONFIG_OPTIONS = {
  config: { type: 'string' },
  'app-name': { type: 'string' },
  'install-dir': { type: 'string' },
  'current-version': { type: 'string' },
  'state-dir': { type: 'string' },
  'metadata-url': { type: 'string' },
  'targets-url': { type: 'string' },
  'trusted-root': { type: 'string' },
  channel: { type: 'string' },
  'health-timeout': { type: 'string' },
  'wait-timeout': { type: 'string' },
  header: { type: 'string', multiple: true },
  json: { type: 'boolean' },
} as const;

/** `--help` lines of CLIENT_CONFIG_OPTIONS. */
export const CLIENT_CONFIG_HELP = {
  config: 'update.json with the settings below (paths in it are relative to it; flags win)',
  'app-name': 'the app as published: <app-name>-<version>.tar.gz',
  'install-dir': 'the folder an update replaces',
  'current-version': 'the version installed there (optional: the client records and identifies it)',
  'state-dir': "the client's own folder, outside the install folder (default: <install-dir>.notsotuf-state)",
  'metadata-url': 'base URL of the TUF metadata, e.g. https://updates.example.com/metadata',
  'targets-url': 'base URL of the target files, e.g. https://updates.example.com/targets',
  'trusted-root': 'the root.json shipped with the app',
  channel: 'stable (default), rc, beta, alpha or dev',
  'health-timeout': 'seconds a restarted new version has to confirm (default 60; 0: no health check)',
  'wait-timeout': 'seconds the installer waits for the app to exit (default 300)',
  header: '"Name: value" sent with every request (private repositories)',
  json: 'print one JSON object on stdout',
} as const;

const KEYS = {
  appName: 'app-name',
  installDir: 'install-dir',
  currentVersion: 'current-version',
  stateDir: 'state-dir',
  metadataUrl: 'metadata-url',
  targetsUrl: 'targets-url',
  trustedRoot: 'trusted-root',
  channel: 'channel',
} as const;
type Key = keyof typeof KEYS;
const PATH_KEYS: readonly Key[] = ['installDir', 'stateDir', 'trustedRoot'];
/** Keys of the file that are not strings: whole seconds, and the restart command. */
const SECONDS_KEYS = { healthTimeoutSeconds: 'health-timeout', waitTimeoutSeconds: 'wait-timeout' } as const;
type SecondsKey = keyof typeof SECONDS_KEYS;
const FILE_ONLY_KEYS = ['command'] as const;
const MAX_SECONDS = 24 * 60 * 60;

/** What the client commands get: the library's options and the app's restart command. */
export type ClientSettings = ClientOptions & {
  /** update.json's `command`, the program resolved against the install folder; undefined when not set. */
  readonly command?: readonly string[];
};

/** The installer must wait at least a second for the app to exit; the health check may be off (0). */
const MIN_SECONDS: Readonly<Record<SecondsKey, number>> = { healthTimeoutSeconds: 0, waitTimeoutSeconds: 1 };

function seconds(value: unknown, what: string, key: SecondsKey): number {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  const min = MIN_SECONDS[key];
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > MAX_SECONDS)
    throw new UsageError(
      'CONFIG_INVALID',
      `${what} must be a whole number of seconds from ${min} to ${MAX_SECONDS}`,
    );
  return n;
}

async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size > CLIENT_LIMITS.maxConfigBytes) {
        throw new UsageError(
          'CONFIG_TOO_LARGE',
          `config file ${path} is over ${CLIENT_LIMITS.maxConfigBytes} bytes`,
        );
      }
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (cause) {
    if (cause instanceof UsageError) throw cause;
    throw new UsageError('CONFIG_UNREADABLE', `cannot read config file ${path}: check the --config path`, {
      cause,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new UsageError('CONFIG_INVALID', `config file ${path} is not valid JSON`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError('CONFIG_INVALID', `config file ${path} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** What a config file and the flags give, before defaults and checks. */
interface RawSettings {
  settings: Partial<Record<Key, string>>;
  timeouts: Partial<Record<SecondsKey, number>>;
  command?: string[];
}

/** Reads the settings of the config `file` (paths in it are relative to the file's folder). */
async function settingsFromFile(file: string): Promise<RawSettings> {
  const out: RawSettings = { settings: {}, timeouts: {} };
  const raw = await readConfigFile(file);
  const known = [...Object.keys(KEYS), ...Object.keys(SECONDS_KEYS), ...FILE_ONLY_KEYS];
  const unknown = Object.keys(raw).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new UsageError(
      'CONFIG_INVALID',
      `config file ${file}: unknown setting ${unknown.map((k) => `"${k}"`).join(', ')}: the settings are ${known.join(', ')} (headers only as --header flags)`,
    );
  }
  for (const key of Object.keys(SECONDS_KEYS) as SecondsKey[])
    if (raw[key] !== undefined) out.timeouts[key] = seconds(raw[key], `config file ${file}: "${key}"`, key);
  if (raw.command !== undefined) {
    const c = raw.command;
    if (!Array.isArray(c) || c.length === 0 || !c.every((w) => typeof w === 'string') || c[0] === '')
      throw new UsageError(
        'CONFIG_INVALID',
        `config file ${file}: "command" must be a list of strings, the program (relative to the install folder) first, e.g. ["myapp", "--flag"]`,
      );
    out.command = c;
  }
  for (const key of Object.keys(KEYS) as Key[]) {
    const v = raw[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '') {
      throw new UsageError('CONFIG_INVALID', `config file ${file}: "${key}" must be a non-empty string`);
    }
    out.settings[key] = PATH_KEYS.includes(key) ? resolve(dirname(file), v) : v;
  }
  return out;
}

/** The `--header "Name: value"` flags as a record. */
function headersFrom(ctx: CommandContext): Record<string, string> {
  const headers: Record<string, string> = {};
  const headerFlags = ctx.values.header;
  for (const h of Array.isArray(headerFlags) ? headerFlags : []) {
    const text = String(h);
    const colon = text.indexOf(':');
    if (colon <= 0) throw new UsageError('INVALID_HEADER', `--header "${text}" must look like "Name: value"`);
    headers[text.slice(0, colon).trim()] = text.slice(colon + 1).trim();
  }
  return headers;
}

/** Refuses settings without the required keys, or (unless `forInstall`) without an install folder. */
async function checkRequired(settings: Partial<Record<Key, string>>, forInstall: boolean): Promise<void> {
  const missing = (
    ['appName', 'installDir', 'stateDir', 'metadataUrl', 'targetsUrl', 'trustedRoot'] as const
  ).filter((k) => settings[k] === undefined);
  if (missing.length > 0) {
    throw new UsageError(
      'MISSING_SETTING',
      `missing ${missing.map((k) => `${k} (--${KEYS[k]})`).join(', ')}: give them in --config FILE or as flags`,
    );
  }
  const installDir = settings.installDir ?? '';
  const installed = await stat(installDir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!installed && !forInstall) {
    throw new UsageError(
      'INSTALL_DIR_MISSING',
      `installDir ${installDir} is not a folder: give the folder the app is installed in (--install-dir or "installDir"), or install the app there first (notsotuf install)`,
    );
  }
}

/**
 * Reads `--config FILE` and the flags into the client's settings. `forInstall`: the install folder
 * may be missing or empty (`notsotuf install`); every other command needs it to be a folder.
 */
export async function clientOptionsFrom(
  ctx: CommandContext,
  { forInstall = false }: { forInstall?: boolean } = {},
): Promise<ClientSettings> {
  const configFlag = ctx.values.config;
  const { settings, timeouts, command } =
    typeof configFlag === 'string'
      ? await settingsFromFile(resolve(ctx.cwd, configFlag))
      : ({ settings: {}, timeouts: {} } as RawSettings);
  for (const [key, flag] of Object.entries(KEYS) as [Key, string][]) {
    const v = ctx.values[flag];
    if (typeof v === 'string') settings[key] = PATH_KEYS.includes(key) ? resolve(ctx.cwd, v) : v;
  }
  for (const [key, flag] of Object.entries(SECONDS_KEYS) as [SecondsKey, string][]) {
    const v = ctx.values[flag];
    if (typeof v === 'string') timeouts[key] = seconds(v, `--${flag}`, key);
  }
  // The state folder defaults to a sibling of the install folder: the same for the installer's
  // update.json and the one inside the app folder ("installDir": ".").
  if (settings.stateDir === undefined && settings.installDir !== undefined)
    settings.stateDir = `${settings.installDir}.notsotuf-state`;
  await checkRequired(settings, forInstall);
  const installDir = settings.installDir ?? '';
  const headers = headersFrom(ctx);
  const [program, ...args] = command ?? [];
  return {
    appName: settings.appName ?? '',
    installDir,
    ...(settings.currentVersion !== undefined ? { currentVersion: settings.currentVersion } : {}),
    ...timeouts,
    ...(program !== undefined ? { command: [resolve(installDir, program), ...args] } : {}),
    stateDir: settings.stateDir ?? '',
    metadataUrl: settings.metadataUrl ?? '',
    targetsUrl: settings.targetsUrl ?? '',
    trustedRoot: settings.trustedRoot ?? '',
    channel: parseChannel(settings.channel ?? 'stable'),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
  };
}

/**
 * A note on stderr when the settings name a currentVersion that the client's own record of the
 * install folder contradicts (an update.json written before an update): the record wins.
 */
export function noteStaleVersion(
  ctx: CommandContext,
  given: string | undefined,
  installed: string | undefined,
): void {
  if (given === undefined || installed === undefined || ctx.values.json === true) return;
  let same = false;
  try {
    same = parseVersion(given).text === installed;
  } catch {
    same = false;
  }
  if (!same)
    ctx.stderr.write(
      `note: currentVersion says ${given}, but notsotuf installed ${installed} in this folder: using ${installed} (remove currentVersion from update.json; the client knows the installed version)\n`,
    );
}
