import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { publishRepository } from '../../repo/index.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { publisherConfig } from './keys-shared.js';

export const publishCommand: Command = {
  path: ['publish'],
  summary: 'Copy the verified repository to a folder in the safe order (timestamp.json last)',
  usage: 'DEST [--delete] [--unsafe-skip-verify] [--config FILE]',
  options: {
    config: { type: 'string' },
    delete: { type: 'boolean' },
    'unsafe-skip-verify': { type: 'boolean' },
  },
  async run(ctx) {
    const [dest, extra] = ctx.positionals;
    if (dest === undefined || extra !== undefined)
      throw new UsageError('MISSING_ARGUMENT', 'give exactly one DEST folder');
    const config = await publisherConfig(ctx);
    const r = await publishRepository(config.repository, resolve(ctx.cwd, dest), {
      unsafeSkipVerify: ctx.values['unsafe-skip-verify'] === true,
      deleteExtra: ctx.values.delete === true,
    });
    ctx.stdout.write(
      `Published to ${resolve(ctx.cwd, dest)}: ${r.copied.length} file(s) copied, ${r.skipped.length} already there${r.deleted.length > 0 ? `, ${r.deleted.length} pruned file(s) deleted` : ''}\n`,
    );
    return EXIT.ok;
  },
};
