import { stat } from 'node:fs/promises';
import { relative, resolve, isAbsolute } from 'node:path';
import { UsageError } from '../../errors.js';
import { publishRepository } from '../../repo/index.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { CONFIG_HELP, publisherConfig } from './keys-shared.js';

/** True when `inner` is `outer` or inside it. */
function within(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export const publishCommand: Command = {
  path: ['publish'],
  summary: 'Copy the verified repository to a folder in the safe order (timestamp.json last)',
  usage: 'DEST [--delete] [--unsafe-skip-verify] [--config FILE]',
  options: {
    config: { type: 'string' },
    delete: { type: 'boolean' },
    'unsafe-skip-verify': { type: 'boolean' },
  },
  optionHelp: {
    ...CONFIG_HELP,
    delete: 'also delete files in DEST that the repository no longer has (after release prune)',
    'unsafe-skip-verify': 'copy without verifying the repository first (clients may refuse it)',
  },
  async run(ctx) {
    const [destArg, extra] = ctx.positionals;
    if (destArg === undefined || extra !== undefined)
      throw new UsageError('MISSING_ARGUMENT', 'give exactly one DEST folder');
    const config = await publisherConfig(ctx);
    const dest = resolve(ctx.cwd, destArg);
    const info = await stat(dest).catch(() => undefined);
    if (info !== undefined && !info.isDirectory()) {
      throw new UsageError(
        'DEST_NOT_A_FOLDER',
        `${dest} is a file, not a folder: pass the folder to publish to`,
      );
    }
    // The published folder is served to everyone: it must never hold the private keys.
    for (const [what, path] of [
      ['key folder', config.keys],
      ['project file', config.file],
    ] as const) {
      if (within(dest, path)) {
        throw new UsageError(
          'DEST_HOLDS_KEYS',
          `${dest} contains the ${what} ${path}: publish to a folder of its own (it is served to everyone), e.g. ../published`,
        );
      }
    }
    const r = await publishRepository(config.repository, dest, {
      unsafeSkipVerify: ctx.values['unsafe-skip-verify'] === true,
      deleteExtra: ctx.values.delete === true,
    });
    ctx.stdout.write(
      `Published to ${dest}: ${r.copied.length} file(s) copied, ${r.skipped.length} already there${r.deleted.length > 0 ? `, ${r.deleted.length} pruned file(s) deleted` : ''}\n`,
    );
    return EXIT.ok;
  },
};
