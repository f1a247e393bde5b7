import { COMMANDS } from './commands/index.js';
import type { CliIo } from './run-cli.js';
import { runCli } from './run-cli.js';

export type { CliIo } from './run-cli.js';

/** The full CLI (publisher and client commands), as the npm package's `notsotuf` runs it. */
export function runMain(argv: readonly string[], io: CliIo): Promise<number> {
  return runCli(argv, io, {
    commands: COMMANDS,
    title: 'notsotuf: secure updates for stand-alone applications (TUF)',
  });
}
