import { resolve } from 'node:path';
import { createPatch } from '../../diff/index.js';
import { UsageError } from '../../errors.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';

export const diffCommand: Command = {
  path: ['diff'],
  summary: 'Create a patch that turns the uncompressed tar OLD into NEW',
  usage: 'OLD.tar NEW.tar PATCH [--format 1|2] [--json]',
  options: { json: { type: 'boolean' }, format: { type: 'string' } },
  optionHelp: {
    json: 'print the result as JSON',
    format: 'patch format, 2 (default) or 1 (for clients older than format 2)',
  },
  async run(ctx) {
    if (ctx.positionals.length !== 3) {
      throw new UsageError('BAD_ARGUMENTS', 'diff needs three arguments: OLD.tar NEW.tar PATCH');
    }
    const [oldTar, newTar, patch] = ctx.positionals.map((p) => resolve(ctx.cwd, p)) as [
      string,
      string,
      string,
    ];
    const format = ctx.values.format ?? '2';
    if (format !== '1' && format !== '2') {
      throw new UsageError('INVALID_OPTION', `--format must be 1 or 2, got "${String(format)}"`);
    }
    const info = await createPatch(oldTar, newTar, patch, { format: format === '1' ? 1 : 2 });
    if (ctx.values.json === true) ctx.stdout.write(`${JSON.stringify(info)}\n`);
    else {
      ctx.stdout.write(
        `wrote ${ctx.positionals[2]}: ${info.patchLength} bytes (new archive ${info.result.length} bytes), sha256 ${info.patchSha256}\n`,
      );
    }
    return EXIT.ok;
  },
};
