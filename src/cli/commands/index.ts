import type { Command } from '../command.js';
import { CLIENT_COMMANDS } from './client-commands.js';
import { diffCommand } from './diff.js';
import { initCommand } from './init.js';
import { installerCommand } from './installer.js';
import { keysCommands } from './keys.js';
import { patchCommand } from './patch.js';
import { publishCommand } from './publish.js';
import { refreshCommand } from './refresh.js';
import { releaseCommands } from './release.js';
import { serveCommand } from './serve.js';
import { signCommand } from './sign.js';
import { statusCommand } from './status.js';
import { tufupBridgeCommand } from './tufup.js';

/** The publisher's commands (keys, releases, signing, serving). One line per module; keep sorted. */
export const PUBLISHER_COMMANDS: readonly Command[] = [
  diffCommand,
  initCommand,
  installerCommand,
  ...keysCommands,
  patchCommand,
  publishCommand,
  refreshCommand,
  ...releaseCommands,
  serveCommand,
  signCommand,
  statusCommand,
  tufupBridgeCommand,
];

/** Every CLI command (the `notsotuf` of the npm package), sorted by command path. */
export const COMMANDS: readonly Command[] = [...CLIENT_COMMANDS, ...PUBLISHER_COMMANDS].sort((a, b) =>
  a.path.join(' ').localeCompare(b.path.join(' ')),
);
