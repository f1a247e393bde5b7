import type { Command } from '../command.js';
import { checkCommand } from './check.js';
import { diffCommand } from './diff.js';
import { patchCommand } from './patch.js';
import { updateCommand } from './update.js';

/** Every CLI command. One line per module; keep sorted by command path. */
export const COMMANDS: readonly Command[] = [checkCommand, diffCommand, patchCommand, updateCommand];
