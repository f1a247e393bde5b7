import { UsageError } from '../../errors.js';
import { parseRoleName, refreshRepository } from '../../repo/index.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { SIGNING_HELP, SIGNING_OPTIONS, keyDirOf, passphrasesOf, publisherConfig } from './keys-shared.js';

export const refreshCommand: Command = {
  path: ['refresh'],
  summary: 'Re-sign roles that expire soon with the keys at hand (for cron/CI; non-zero if a key is missing)',
  usage: '[--force ROLE]... [--keys DIR] [--config FILE]',
  options: { ...SIGNING_OPTIONS, force: { type: 'string', multiple: true } },
  optionHelp: {
    ...SIGNING_HELP,
    force: 're-sign this role even if it is not due (root, targets, snapshot, timestamp)',
  },
  async run(ctx) {
    if (ctx.positionals.length > 0)
      throw new UsageError('EXTRA_ARGUMENT', `unexpected argument "${ctx.positionals[0]}"`);
    const config = await publisherConfig(ctx);
    const force = ((ctx.values.force ?? []) as string[]).map((r) => parseRoleName(r));
    const r = await refreshRepository(config, {
      keyDir: keyDirOf(ctx, config),
      passphrase: passphrasesOf(ctx),
      force,
    });
    ctx.stdout.write(
      r.refreshed.length === 0 ? 'Nothing re-signed\n' : `Re-signed ${r.refreshed.join(', ')}\n`,
    );
    if (r.missingKeys.length > 0) {
      ctx.stderr.write(
        `error: ${r.missingKeys.join(', ')} must be re-signed but no key for it is in ${keyDirOf(ctx, config)}: run "notsotuf refresh" where that key is (root and targets keys are usually offline)\n`,
      );
      return EXIT.failure;
    }
    return EXIT.ok;
  },
};
