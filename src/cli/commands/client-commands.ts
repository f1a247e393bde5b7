import type { Command } from '../command.js';
import { checkCommand } from './check.js';
import { confirmCommand } from './confirm.js';
import { installCommand } from './install.js';
import { updateCommand } from './update.js';

/**
 * The commands an app's user runs: the whole CLI of the single-file client executable
 * (client-main.ts). Nothing here may import src/repo/ or signing code (test/exe/client-bundle.test.ts
 * checks the bundle). One line per module; keep sorted by command path.
 */
export const CLIENT_COMMANDS: readonly Command[] = [
  checkCommand,
  confirmCommand,
  installCommand,
  updateCommand,
];
