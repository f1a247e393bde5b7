import { Client } from '../../client/index.js';
import { CLIENT_CONFIG_HELP, CLIENT_CONFIG_OPTIONS, clientOptionsFrom } from '../client-config.js';
import { formatSize } from '../format-size.js';
import { noExtraArguments } from '../arguments.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { progressBar } from '../progress-bar.js';

export const installCommand: Command = {
  path: ['install'],
  summary: 'First install: put the newest release into a new or empty install folder (exit 0)',
  usage: '--config FILE | (settings as for check) [--json]',
  options: CLIENT_CONFIG_OPTIONS,
  optionHelp: CLIENT_CONFIG_HELP,
  async run(ctx) {
    noExtraArguments(ctx);
    const client = new Client(await clientOptionsFrom(ctx, { forInstall: true }));
    const json = ctx.values.json === true;
    const onProgress = progressBar(ctx);
    const result = await client.firstInstall({
      ...(onProgress ? { onProgress } : {}),
      ...(json
        ? {}
        : {
            onStage: (stage) => stage === 'download' && ctx.stderr.write(`installing ${client.appName}...\n`),
          }),
    });
    if (json) {
      ctx.stdout.write(
        `${JSON.stringify(
          result.kind === 'installed'
            ? {
                status: 'installed',
                version: result.version,
                installDir: client.installDir,
                downloadBytes: result.downloadBytes,
              }
            : { status: 'already-installed', version: result.version, installDir: client.installDir },
        )}\n`,
      );
    } else if (result.kind === 'installed') {
      ctx.stdout.write(
        `installed ${client.appName} ${result.version} in ${client.installDir} (${formatSize(result.downloadBytes)} downloaded)\n`,
      );
    } else {
      ctx.stdout.write(
        `${client.appName} ${result.version} is installed in ${client.installDir} already: nothing changed (run "notsotuf update" to move it to the newest release)\n`,
      );
    }
    return EXIT.ok;
  },
};
