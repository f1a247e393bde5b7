import type { Command } from '../command.js';

/** Every CLI command. One line per module; keep sorted by command path. */
export const COMMANDS: readonly Command[] = [];
