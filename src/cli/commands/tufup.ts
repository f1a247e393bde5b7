import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { publishTufupBridge } from '../../repo/index.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';

function required(ctx: Parameters<Command['run']>[0], name: string): string {
  const v = ctx.values[name];
  if (typeof v !== 'string' || v === '')
    throw new UsageError('MISSING_OPTION', `give --${name} (see "notsotuf tufup bridge --help")`);
  return v;
}

export const tufupBridgeCommand: Command = {
  path: ['tufup', 'bridge'],
  summary:
    "Publish the bridge release (full archive) into an existing tufup repository with tufup's keys (docs/migrating.md)",
  usage: 'VERSION FOLDER --app NAME --tufup-repo DIR --tufup-keys DIR [--required]',
  options: {
    app: { type: 'string' },
    'tufup-repo': { type: 'string' },
    'tufup-keys': { type: 'string' },
    required: { type: 'boolean' },
  },
  optionHelp: {
    app: 'the app name tufup publishes (<app>-<version>.tar.gz)',
    'tufup-repo': 'the tufup repository folder (holding metadata/ and targets/)',
    'tufup-keys': "tufup's key folder (unencrypted key files; for encrypted ones use tufup's own tools)",
    required: 'mark the release required for tufup clients (custom.tufup.required)',
  },
  async run(ctx) {
    const [version, folder, extra] = ctx.positionals;
    if (version === undefined || folder === undefined)
      throw new UsageError(
        'MISSING_ARGUMENT',
        'give VERSION and FOLDER (the bridge release, with the notsotuf client)',
      );
    if (extra !== undefined) throw new UsageError('EXTRA_ARGUMENT', `unexpected argument "${extra}"`);
    const r = await publishTufupBridge({
      app: required(ctx, 'app'),
      version,
      folder: resolve(ctx.cwd, folder),
      repository: resolve(ctx.cwd, required(ctx, 'tufup-repo')),
      keys: resolve(ctx.cwd, required(ctx, 'tufup-keys')),
      required: ctx.values.required === true,
    });
    ctx.stdout.write(
      `Published ${r.archive} (${r.length} B, full archive) into the tufup repository: targets version ${r.targetsVersion}.\n` +
        'tufup clients install it at their next check. Publish the same folder with "notsotuf release add" too.\n',
    );
    return EXIT.ok;
  },
};
