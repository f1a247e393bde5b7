import { CLIENT_COMMANDS } from './commands/client-commands.js';
import type { CliIo } from './run-cli.js';
import { runCli } from './run-cli.js';

/**
 * The client-only CLI: what the single-file executables (npm run build:exe) hold. It must not
 * import commands/index.ts, which loads the publisher's commands and signing code.
 */
export function runClientMain(argv: readonly string[], io: CliIo): Promise<number> {
  return runCli(argv, io, {
    commands: CLIENT_COMMANDS,
    title: 'notsotuf (client): checks for, downloads and installs updates of an app (TUF)',
  });
}
