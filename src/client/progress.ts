import type { DownloadProgress } from './client-options.js';

/**
 * Limits progress callbacks to about one per `intervalMs` (a download delivers a chunk every few
 * kilobytes: 940 calls for 63 MB). A stage's first report, its first bytes after 0, and its end
 * (bytesDone === totalBytes) always pass, so a progress bar starts at once and reaches 100 %.
 */
export function throttleProgress(
  onProgress: (p: DownloadProgress) => void,
  intervalMs = 100,
  now: () => number = () => performance.now(),
): (p: DownloadProgress) => void {
  let lastAt = Number.NEGATIVE_INFINITY;
  let lastStage: DownloadProgress['stage'] | undefined;
  let lastDone = -1;
  return (p) => {
    const t = now();
    const end = p.bytesDone >= p.totalBytes;
    // The first bytes after a start at 0 also pass: the caller learns at once that data flows.
    const firstBytes = lastDone === 0 && p.bytesDone > 0;
    if (p.stage === lastStage && !firstBytes && (end ? lastDone === p.bytesDone : t - lastAt < intervalMs))
      return;
    lastAt = t;
    lastStage = p.stage;
    lastDone = p.bytesDone;
    onProgress(p);
  };
}
