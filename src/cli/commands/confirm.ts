import { Client } from '../../client/index.js';
import { UsageError } from '../../errors.js';
import { CLIENT_CONFIG_HELP, CLIENT_CONFIG_OPTIONS, clientOptionsFrom } from '../client-config.js';
import { noExtraArguments } from '../arguments.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';

export const confirmCommand: Command = {
  path: ['confirm'],
  summary: 'Tell the installer that the new version started well, so it keeps it (exit 0)',
  usage: '--config FILE | (settings as for check) [--json]',
  options: CLIENT_CONFIG_OPTIONS,
  optionHelp: CLIENT_CONFIG_HELP,
  async run(ctx) {
    noExtraArguments(ctx);
    const client = new Client(await clientOptionsFrom(ctx));
    const version = await client.confirmPending();
    if (version === undefined)
      throw new UsageError(
        'NOTHING_TO_CONFIRM',
        `no new version of ${client.appName} waits for a confirmation in ${client.installDir} (no hand-over is pending, or the installer has not put the new version in place, or it rolled back): nothing was changed. Run "notsotuf confirm" from the version the installer restarted (NOTSOTUF_HANDOVER=1 in its environment)`,
      );
    if (ctx.values.json === true) ctx.stdout.write(`${JSON.stringify({ status: 'confirmed', version })}\n`);
    else ctx.stdout.write(`confirmed ${client.appName} ${version}: the installer keeps it\n`);
    return EXIT.ok;
  },
};
