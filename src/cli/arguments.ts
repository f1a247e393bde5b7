import { UsageError } from '../errors.js';
import type { CommandContext } from './command.js';

/**
 * Refuses positional arguments beyond the first `count` (a typo such as `status extra` or a
 * forgotten `--` must not be silently ignored).
 */
export function noExtraArguments(ctx: CommandContext, count = 0): void {
  const extra = ctx.positionals[count];
  if (extra !== undefined) throw new UsageError('EXTRA_ARGUMENT', `unexpected argument "${extra}"`);
}
