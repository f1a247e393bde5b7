import type { DownloadProgress } from '../client/index.js';
import { formatSize } from './format-size.js';
import type { CommandContext } from './command.js';

/** A download progress bar on stderr when it is a terminal (and no --json), else undefined. */
export function progressBar(ctx: CommandContext): ((p: DownloadProgress) => void) | undefined {
  const stream = ctx.stderr as { isTTY?: boolean; columns?: number };
  if (stream.isTTY !== true || ctx.values.json === true) return undefined;
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 100 && p.bytesDone < p.totalBytes) return;
    last = now;
    const width = 30;
    const fraction = p.totalBytes > 0 ? Math.min(1, p.bytesDone / p.totalBytes) : 1;
    const filled = Math.round(fraction * width);
    ctx.stderr.write(
      `\r${p.stage.padEnd(8)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ` +
        `${formatSize(p.bytesDone)} / ${formatSize(p.totalBytes)} ${formatSize(Math.round(p.bytesPerSecond))}/s\u001b[K` +
        (p.bytesDone >= p.totalBytes ? '\n' : ''),
    );
  };
}
