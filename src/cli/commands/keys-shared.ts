import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import {
  CONFIG_FILE,
  envKeyName,
  envPassphrases,
  inspectRepositoryMetadata,
  loadConfig,
} from '../../repo/index.js';
import type { PassphraseSource, RepoConfig } from '../../repo/index.js';
export { formatSize } from '../format-size.js';
import type { CommandContext } from '../command.js';

/** Options every publisher command takes. */
export const PUBLISHER_OPTIONS = {
  config: { type: 'string' },
} as const;

/** `--help` lines of PUBLISHER_OPTIONS / SIGNING_OPTIONS. */
export const CONFIG_HELP = {
  config: 'the project file notsotuf.json, or a folder holding it (default: ./notsotuf.json)',
} as const;
export const SIGNING_HELP = {
  ...CONFIG_HELP,
  keys: 'key folder to sign with (default: the "keys" folder of notsotuf.json)',
} as const;

/** Options of publisher commands that sign. */
export const SIGNING_OPTIONS = {
  config: { type: 'string' },
  keys: { type: 'string' },
} as const;

export function stringOption(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function intOption(ctx: CommandContext, name: string): number | undefined {
  const v = stringOption(ctx, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v))
    throw new UsageError('INVALID_OPTION', `--${name} must be a whole number, got "${v}"`);
  return Number(v);
}

/** The nearest folder above `dir` that holds notsotuf.json, if any. */
async function projectAbove(dir: string): Promise<string | undefined> {
  let d = dir;
  while (dirname(d) !== d) {
    d = dirname(d);
    const isFile = await stat(join(d, CONFIG_FILE)).then(
      (s) => s.isFile(),
      () => false,
    );
    if (isFile) return d;
  }
  return undefined;
}

/** notsotuf.json from --config (file or folder) or the working folder. */
export async function publisherConfig(ctx: CommandContext): Promise<RepoConfig> {
  const explicit = stringOption(ctx, 'config');
  try {
    return await loadConfig(ctx.cwd, explicit);
  } catch (error) {
    // Run from a subfolder (e.g. ./dist): point at the project instead of suggesting a second init.
    const project =
      explicit === undefined && error instanceof UsageError && error.code === 'NO_CONFIG'
        ? await projectAbove(ctx.cwd)
        : undefined;
    if (project === undefined) throw error;
    throw new UsageError(
      'NO_CONFIG',
      `no ${CONFIG_FILE} in ${ctx.cwd}; the project is ${project}: run the command there, or pass --config ${join(project, CONFIG_FILE)}`,
      { cause: error },
    );
  }
}

/** The key folder to sign with: --keys, else the config's. */
export function keyDirOf(ctx: CommandContext, config: RepoConfig): string {
  const k = stringOption(ctx, 'keys');
  return k === undefined ? config.keys : resolve(ctx.cwd, k);
}

/**
 * Passphrases of encrypted keys: NOTSOTUF_PASSPHRASE_<KEYNAME> (uppercased, other characters as
 * "_"), then NOTSOTUF_PASSPHRASE, then a prompt on the terminal.
 */
export function passphrasesOf(ctx: CommandContext): PassphraseSource {
  const fromEnv = envPassphrases(ctx.env);
  return async (name) => {
    const v = await fromEnv(name);
    if (v !== undefined) return v;
    if (ctx.prompt === undefined) return undefined;
    return {
      passphrase: await ctx.prompt(`Passphrase for key "${name}": `, { secret: true }),
      from: 'the prompt',
    };
  };
}

/** A new passphrase: from the environment, else asked twice on the terminal. */
export async function newPassphrase(ctx: CommandContext, keyName: string): Promise<string> {
  const v = ctx.env[`NOTSOTUF_PASSPHRASE_${envKeyName(keyName)}`] ?? ctx.env.NOTSOTUF_PASSPHRASE;
  if (v !== undefined && v !== '') return v;
  if (ctx.prompt === undefined) {
    throw new UsageError(
      'PASSPHRASE_REQUIRED',
      `no terminal to ask a passphrase for key "${keyName}": set NOTSOTUF_PASSPHRASE_${envKeyName(keyName)} or NOTSOTUF_PASSPHRASE`,
    );
  }
  const a = await ctx.prompt(`New passphrase for key "${keyName}": `, { secret: true });
  const b = await ctx.prompt('Repeat it: ', { secret: true });
  if (a !== b)
    throw new UsageError('PASSPHRASE_MISMATCH', 'the two passphrases differ: run the command again');
  if (a === '') throw new UsageError('EMPTY_PASSPHRASE', 'the passphrase is empty');
  return a;
}

/** After a change: says which roles still miss signatures (publish refuses until they are added). */
export async function reportMissingSignatures(ctx: CommandContext, config: RepoConfig): Promise<void> {
  const inspection = await inspectRepositoryMetadata(config.repository, new Date());
  for (const p of inspection.problems) {
    if (p.kind === 'missing-signatures') ctx.stdout.write(`note: ${p.message}\n`);
  }
}
