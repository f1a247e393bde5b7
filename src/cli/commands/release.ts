import { resolve } from 'node:path';
import { UsageError, messageOf } from '../../errors.js';
import { addRelease, pruneRepository, readReleases, removeLatestRelease } from '../../repo/index.js';
import { noExtraArguments } from '../arguments.js';
import type { Command, CommandContext } from '../command.js';
import { EXIT } from '../exit-codes.js';
import {
  CONFIG_HELP,
  SIGNING_HELP,
  SIGNING_OPTIONS,
  formatSize,
  intOption,
  keyDirOf,
  passphrasesOf,
  publisherConfig,
  reportMissingSignatures,
  stringOption,
} from './keys-shared.js';

function parseMeta(ctx: CommandContext): Record<string, unknown> | undefined {
  const text = stringOption(ctx, 'meta');
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (cause) {
    throw new UsageError(
      'INVALID_META',
      `--meta is not valid JSON (${messageOf(cause)}): pass an object like '{"notes":"..."}'`,
      { cause },
    );
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new UsageError(
      'INVALID_META',
      '--meta must be a JSON object, e.g. {"notes":"Fixes crash on start"}',
    );
  }
  return v as Record<string, unknown>;
}

const releaseAdd: Command = {
  path: ['release', 'add'],
  summary: 'Pack a folder as a new release, make the patch from the previous one, sign and write',
  usage:
    'VERSION FOLDER [--app NAME] [--required] [--rollout PERCENT] [--meta JSON] [--skip-patch] [--patch-format 1|2] [--keep-mtime] [--force]',
  options: {
    ...SIGNING_OPTIONS,
    app: { type: 'string' },
    required: { type: 'boolean' },
    rollout: { type: 'string' },
    meta: { type: 'string' },
    'skip-patch': { type: 'boolean' },
    'patch-format': { type: 'string' },
    'keep-mtime': { type: 'boolean' },
    force: { type: 'boolean' },
  },
  optionHelp: {
    ...SIGNING_HELP,
    app: 'app name (default: "app" of notsotuf.json)',
    required: 'clients must install this release before any later one',
    rollout: 'offer it to this percentage of installs, 1-100 (default 100)',
    meta: 'JSON object signed with the release, e.g. \'{"notes":"Fixes a crash"}\' (no fractions)',
    'skip-patch': 'make no patch from the previous release (clients download the archive)',
    'patch-format':
      'patch format, 2 (default: smaller for machine code) or 1 (for clients older than format 2; see docs/publisher.md)',
    'keep-mtime': "keep the files' modification times in the archive (default: a fixed time)",
    force: "release even if the folder lacks most of the previous release's files",
  },
  async run(ctx) {
    const [version, folder, extra] = ctx.positionals;
    if (version === undefined || folder === undefined)
      throw new UsageError(
        'MISSING_ARGUMENT',
        'give VERSION and FOLDER, e.g. notsotuf release add 1.2.0 ./dist',
      );
    if (extra !== undefined) throw new UsageError('EXTRA_ARGUMENT', `unexpected argument "${extra}"`);
    const config = await publisherConfig(ctx);
    const user = parseMeta(ctx);
    const rollout = intOption(ctx, 'rollout');
    const app = stringOption(ctx, 'app');
    const patchFormat = intOption(ctx, 'patch-format');
    if (patchFormat !== undefined && patchFormat !== 1 && patchFormat !== 2) {
      throw new UsageError('INVALID_OPTION', `--patch-format must be 1 or 2, got "${patchFormat}"`);
    }
    const r = await addRelease(
      { ...config, keys: keyDirOf(ctx, config) },
      version,
      resolve(ctx.cwd, folder),
      {
        passphrase: passphrasesOf(ctx),
        required: ctx.values.required === true,
        skipPatch: ctx.values['skip-patch'] === true,
        keepMtime: ctx.values['keep-mtime'] === true,
        force: ctx.values.force === true,
        ...(patchFormat === undefined ? {} : { patchFormat }),
        ...(app === undefined ? {} : { app }),
        ...(rollout === undefined ? {} : { rollout }),
        ...(user === undefined ? {} : { user }),
      },
    );
    ctx.stdout.write(
      `Released ${r.app} ${r.version}: ${r.archive.name} (${formatSize(r.archive.length)}, tar ${formatSize(r.tar.length)})\n`,
    );
    if (r.patch !== undefined)
      ctx.stdout.write(`  patch from ${r.patch.from}: ${r.patch.name} (${formatSize(r.patch.length)})\n`);
    ctx.stdout.write(
      `  targets version ${r.targetsVersion}. Next: notsotuf status, then notsotuf publish DEST\n`,
    );
    await reportMissingSignatures(ctx, config);
    return EXIT.ok;
  },
};

const releaseList: Command = {
  path: ['release', 'list'],
  summary: 'List the releases in the repository',
  usage: '[--app NAME] [--json] [--config FILE]',
  options: { config: { type: 'string' }, app: { type: 'string' }, json: { type: 'boolean' } },
  optionHelp: { ...CONFIG_HELP, app: 'only this app', json: 'print JSON' },
  async run(ctx) {
    noExtraArguments(ctx);
    const config = await publisherConfig(ctx);
    const app = stringOption(ctx, 'app');
    const releases = await readReleases(config, app === undefined ? {} : { app });
    if (ctx.values.json === true) {
      ctx.stdout.write(
        `${JSON.stringify(
          releases.map((r) => ({
            app: r.app,
            version: r.version,
            archive: r.archive,
            length: r.archiveLength,
            patch: r.patch?.name,
            patchLength: r.patch?.length,
            required: r.meta.required,
            rollout: r.meta.rollout,
            user: r.meta.user,
          })),
          null,
          2,
        )}\n`,
      );
      return EXIT.ok;
    }
    if (releases.length === 0) {
      ctx.stdout.write(
        app === undefined
          ? 'no releases yet: notsotuf release add VERSION FOLDER\n'
          : `no releases of ${app} yet: notsotuf release add VERSION FOLDER --app ${app}\n`,
      );
    }
    for (const r of releases) {
      const flags = [
        r.meta.required ? 'required' : '',
        r.meta.rollout < 100 ? `rollout ${r.meta.rollout}%` : '',
      ].filter((s) => s !== '');
      ctx.stdout.write(
        `${r.app} ${r.version}  ${formatSize(r.archiveLength)}${r.patch === undefined ? '' : `  patch ${formatSize(r.patch.length)} from ${r.patch.meta.source.version}`}${flags.length > 0 ? `  (${flags.join(', ')})` : ''}\n`,
      );
    }
    return EXIT.ok;
  },
};

const releaseRemoveLatest: Command = {
  path: ['release', 'remove-latest'],
  summary: 'Withdraw the newest release of an app from the signed targets',
  usage: '[--app NAME] [--keys DIR] [--config FILE]',
  options: { ...SIGNING_OPTIONS, app: { type: 'string' } },
  optionHelp: { ...SIGNING_HELP, app: 'app name (default: "app" of notsotuf.json)' },
  async run(ctx) {
    noExtraArguments(ctx);
    const config = await publisherConfig(ctx);
    const app = stringOption(ctx, 'app');
    const r = await removeLatestRelease(
      { ...config, keys: keyDirOf(ctx, config) },
      { passphrase: passphrasesOf(ctx), ...(app === undefined ? {} : { app }) },
    );
    ctx.stdout.write(`Removed ${r.removed.app} ${r.removed.version} (targets version ${r.targetsVersion})\n`);
    return EXIT.ok;
  },
};

const releasePrune: Command = {
  path: ['release', 'prune'],
  summary: 'Remove files no recent metadata names (withdrawn releases, old metadata versions)',
  usage: '[--keep N] [--dry-run] [--config FILE]',
  options: { config: { type: 'string' }, keep: { type: 'string' }, 'dry-run': { type: 'boolean' } },
  optionHelp: {
    ...CONFIG_HELP,
    keep: 'keep what the last N targets/snapshot versions name (default 3, at least 2)',
    'dry-run': 'only list what would be removed',
  },
  async run(ctx) {
    noExtraArguments(ctx);
    const config = await publisherConfig(ctx);
    const keep = intOption(ctx, 'keep');
    const dryRun = ctx.values['dry-run'] === true;
    const r = await pruneRepository(config, { dryRun, ...(keep === undefined ? {} : { keep }) });
    for (const rel of r.removed) ctx.stdout.write(`${dryRun ? 'would remove' : 'removed'} ${rel}\n`);
    ctx.stdout.write(
      `${r.removed.length} file(s), ${formatSize(r.bytes)}${dryRun ? ' would be freed' : ' freed'}. Published copies: notsotuf publish DEST --delete\n`,
    );
    return EXIT.ok;
  },
};

export const releaseCommands: readonly Command[] = [
  releaseAdd,
  releaseList,
  releasePrune,
  releaseRemoveLatest,
];
