import { UsageError } from '../../errors.js';
import { parseRoleName, signRole, verifyRepository } from '../../repo/index.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { SIGNING_HELP, SIGNING_OPTIONS, keyDirOf, passphrasesOf, publisherConfig } from './keys-shared.js';

export const signCommand: Command = {
  path: ['sign'],
  summary: "Add this machine's signature(s) to the current version of a role (thresholds above 1)",
  usage: 'ROLE [--keys DIR] [--config FILE]',
  options: SIGNING_OPTIONS,
  optionHelp: SIGNING_HELP,
  async run(ctx) {
    const roleArg = ctx.positionals[0];
    if (roleArg === undefined || ctx.positionals.length > 1)
      throw new UsageError(
        'MISSING_ARGUMENT',
        'give exactly one ROLE (root, targets, snapshot or timestamp)',
      );
    const role = parseRoleName(roleArg);
    const config = await publisherConfig(ctx);
    const r = await signRole(config, role, { keyDir: keyDirOf(ctx, config), passphrase: passphrasesOf(ctx) });
    ctx.stdout.write(`Signed ${role} version ${r.version} with ${r.added.join(', ')}\n`);
    const report = await verifyRepository(config.repository);
    const status = report.roles.find((s) => s.role === role);
    if (status !== undefined) {
      ctx.stdout.write(
        status.missing === 0
          ? `${role} now has ${status.validSignatures} of ${status.threshold} signatures: valid\n`
          : `${role} has ${status.validSignatures} of ${status.threshold} signatures: ${status.missing} missing\n`,
      );
    }
    return EXIT.ok;
  },
};
