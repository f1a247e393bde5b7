import { basename, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { DEFAULT_EXPIRY, MIN_ROOT_DAYS, ROLE_NAMES, initRepository } from '../../repo/index.js';
import type { RoleName } from '../../repo/index.js';
import { noExtraArguments } from '../arguments.js';
import type { Command, CommandContext } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { intOption, newPassphrase, passphrasesOf, stringOption } from './keys-shared.js';

async function ask(ctx: CommandContext, question: string, fallback: string): Promise<string> {
  if (ctx.prompt === undefined) return fallback;
  const a = (await ctx.prompt(`${question} [${fallback}]: `)).trim();
  return a === '' ? fallback : a;
}

export const initCommand: Command = {
  path: ['init'],
  summary: 'Set up a publisher project: notsotuf.json, a key folder and an empty signed repository',
  usage: '[--yes] [--app NAME] [--repository DIR] [--keys DIR] [--encrypt] [--root-days N] ...',
  options: {
    yes: { type: 'boolean', short: 'y' },
    app: { type: 'string' },
    repository: { type: 'string' },
    keys: { type: 'string' },
    cache: { type: 'string' },
    encrypt: { type: 'boolean' },
    'root-days': { type: 'string' },
    'targets-days': { type: 'string' },
    'snapshot-days': { type: 'string' },
    'timestamp-days': { type: 'string' },
  },
  optionHelp: {
    yes: 'ask nothing: take the flags and the defaults (needs --app)',
    app: 'default app name for release add (letters, digits, _ and -)',
    repository: 'folder you publish (default: repository)',
    keys: 'folder of the private keys, never published (default: keys)',
    cache: 'publisher cache: tars of releases, lock file (default: .notsotuf-cache)',
    encrypt: 'encrypt the private keys (passphrase: NOTSOTUF_PASSPHRASE[_<KEY>] or a prompt)',
    'root-days': 'days root metadata stays valid (default 365, at least 30)',
    'targets-days': 'days targets metadata stays valid (default 90)',
    'snapshot-days': 'days snapshot metadata stays valid (default 7)',
    'timestamp-days': 'days timestamp metadata stays valid (default 1)',
  },
  async run(ctx) {
    noExtraArguments(ctx);
    const yes = ctx.values.yes === true;
    if (!yes && ctx.prompt === undefined) {
      throw new UsageError(
        'NO_TERMINAL',
        'no terminal to ask questions on: run "notsotuf init --yes --app NAME" (and other flags)',
      );
    }
    const interactive = !yes;
    let app = stringOption(ctx, 'app');
    if (app === undefined) {
      if (!interactive) throw new UsageError('MISSING_OPTION', 'init --yes needs --app NAME');
      app = await ask(
        ctx,
        'App name (letters, digits, _ and -)',
        basename(ctx.cwd).replace(/[^A-Za-z0-9_-]/g, '-'),
      );
    }
    const pick = async (flag: string, question: string, fallback: string): Promise<string> =>
      stringOption(ctx, flag) ?? (interactive ? ask(ctx, question, fallback) : fallback);
    const repository = await pick('repository', 'Repository folder (what you publish)', 'repository');
    const keys = await pick('keys', 'Key folder (private keys; never publish it)', 'keys');
    const expiry: Partial<Record<RoleName, number>> = {};
    for (const role of ROLE_NAMES) {
      let days = intOption(ctx, `${role}-days`);
      if (days === undefined && interactive) {
        const note = role === 'root' ? ` (at least ${MIN_ROOT_DAYS})` : '';
        const a = await ask(ctx, `Days until ${role} metadata expires${note}`, String(DEFAULT_EXPIRY[role]));
        if (!/^\d+$/.test(a)) throw new UsageError('INVALID_EXPIRY', `"${a}" is not a number of days`);
        days = Number(a);
      }
      if (days !== undefined) expiry[role] = days;
    }
    let encrypt = ctx.values.encrypt === true;
    if (!encrypt && interactive) {
      encrypt = /^y(es)?$/i.test(await ask(ctx, 'Encrypt the private keys with a passphrase? (y/n)', 'y'));
    }
    const passphrases = new Map<string, string>();
    if (encrypt) for (const role of ROLE_NAMES) passphrases.set(role, await newPassphrase(ctx, role));
    const config = await initRepository(ctx.cwd, {
      app,
      repository,
      keys,
      ...(stringOption(ctx, 'cache') === undefined ? {} : { cache: stringOption(ctx, 'cache') }),
      expiry,
      ...(encrypt ? { passphrase: (name: string) => passphrases.get(name) } : {}),
      passphraseSource: passphrasesOf(ctx),
    });
    ctx.stdout.write(
      `Created ${config.file}\n  repository: ${config.repository}\n  keys:       ${config.keys}${encrypt ? ' (encrypted)' : ''}\n` +
        `Keep ${resolve(config.keys)} private and backed up; publish only the repository folder.\n` +
        `Next: notsotuf release add 1.0.0 ./dist\n`,
    );
    return EXIT.ok;
  },
};
