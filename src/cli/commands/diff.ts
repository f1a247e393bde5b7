import { resolve } from 'node:path';
import { createPatch } from '../../diff/index.js';
import { UsageError } from '../../errors.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';

export const diffCommand: Command = {
  path: ['diff'],
  summary: 'Create a patch that turns the uncompressed tar OLD into NEW',
  usage: 'OLD.tar NEW.tar PATCH [--json]',
  options: { json: { type: 'boolean' } },
  optionHelp: { json: 'print the result as JSON' },
  async run(ctx) {
    if (ctx.positionals.length !== 3) {
      throw new UsageError('BAD_ARGUMENTS', 'diff needs three arguments: OLD.tar NEW.tar PATCH');
    }
    const [oldTar, newTar, patch] = ctx.positionals.map((p) => resolve(ctx.cwd, p)) as [
      string,
      string,
      string,
    ];
    const info = await createPatch(oldTar, newTar, patch);
    if (ctx.values.json === true) ctx.stdout.write(`${JSON.stringify(info)}\n`);
    else {
      ctx.stdout.write(
        `wrote ${ctx.positionals[2]}: ${info.patchLength} bytes (new archive ${info.result.length} bytes), sha256 ${info.patchSha256}\n`,
      );
    }
    return EXIT.ok;
  },
};
