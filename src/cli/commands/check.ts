import { Client } from '../../client/index.js';
import {
  CLIENT_CONFIG_HELP,
  CLIENT_CONFIG_OPTIONS,
  clientOptionsFrom,
  noteStaleVersion,
} from '../client-config.js';
import { formatSize } from '../format-size.js';
import { noExtraArguments } from '../arguments.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';

export const checkCommand: Command = {
  path: ['check'],
  summary: 'Check for an update of an installed app (exit 0: none, 10: update available)',
  usage:
    '--config FILE | --app-name NAME --install-dir DIR --current-version V --state-dir DIR --metadata-url URL --targets-url URL --trusted-root FILE [--channel C] [--json]',
  options: CLIENT_CONFIG_OPTIONS,
  optionHelp: CLIENT_CONFIG_HELP,
  async run(ctx) {
    noExtraArguments(ctx);
    const options = await clientOptionsFrom(ctx);
    const client = new Client(options);
    const result = await client.check();
    noteStaleVersion(ctx, options.currentVersion, client.currentVersion);
    const last = client.lastHandover;
    const lastHandover = last === undefined ? {} : { lastHandover: last };
    if (ctx.values.json === true) {
      ctx.stdout.write(
        `${JSON.stringify(
          result.kind === 'none'
            ? { status: 'none', currentVersion: client.currentVersion, ...lastHandover }
            : {
                status: 'available',
                currentVersion: client.currentVersion,
                version: result.version,
                kind: result.kind,
                downloadBytes: result.downloadBytes,
                files:
                  result.kind === 'patches'
                    ? result.chain.map((s) => s.target.path)
                    : [result.archive.target.path],
                required: result.release.required,
                user: result.release.user,
                ...lastHandover,
              },
        )}\n`,
      );
    } else if (result.kind === 'none') {
      if (last !== undefined && last.outcome !== 'installed')
        ctx.stderr.write(
          `note: the update to ${last.version} was not kept (${last.outcome}${last.reason === undefined ? '' : `: ${last.reason}`})\n`,
        );
      ctx.stdout.write(`${client.appName} ${client.currentVersion} is up to date\n`);
    } else {
      const how = result.kind === 'patches' ? `${result.chain.length} patch(es)` : 'full archive';
      ctx.stdout.write(
        `update available: ${client.appName} ${client.currentVersion} -> ${result.version} (${how}, ${formatSize(result.downloadBytes)} to download)\n`,
      );
    }
    return result.kind === 'none' ? EXIT.ok : EXIT.updateAvailable;
  },
};
