import type { Command } from '../command.js';
import { checkCommand } from './check.js';
import { diffCommand } from './diff.js';
import { initCommand } from './init.js';
import { keysCommands } from './keys.js';
import { patchCommand } from './patch.js';
import { publishCommand } from './publish.js';
import { refreshCommand } from './refresh.js';
import { releaseCommands } from './release.js';
import { serveCommand } from './serve.js';
import { signCommand } from './sign.js';
import { statusCommand } from './status.js';
import { updateCommand } from './update.js';

/** Every CLI command. One line per module; keep sorted by command path. */
export const COMMANDS: readonly Command[] = [
  checkCommand,
  diffCommand,
  initCommand,
  ...keysCommands,
  patchCommand,
  publishCommand,
  refreshCommand,
  ...releaseCommands,
  serveCommand,
  signCommand,
  statusCommand,
  updateCommand,
];
