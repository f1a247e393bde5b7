import { resolve } from 'node:path';
import { applyPatch } from '../../diff/index.js';
import { UsageError } from '../../errors.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';

export const patchCommand: Command = {
  path: ['patch'],
  summary: 'Apply PATCH to the uncompressed tar OLD and write the new tar to OUT (checked before and after)',
  usage: 'OLD.tar PATCH OUT.tar [--json]',
  options: { json: { type: 'boolean' } },
  optionHelp: { json: 'print the result as JSON' },
  async run(ctx) {
    if (ctx.positionals.length !== 3) {
      throw new UsageError('BAD_ARGUMENTS', 'patch needs three arguments: OLD.tar PATCH OUT.tar');
    }
    const [oldTar, patch, out] = ctx.positionals.map((p) => resolve(ctx.cwd, p)) as [string, string, string];
    const result = await applyPatch(oldTar, patch, out);
    if (ctx.values.json === true) ctx.stdout.write(`${JSON.stringify(result)}\n`);
    else ctx.stdout.write(`wrote ${ctx.positionals[2]}: ${result.length} bytes, sha256 ${result.sha256}\n`);
    return EXIT.ok;
  },
};
