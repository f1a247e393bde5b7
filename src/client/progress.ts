import type { DownloadProgress } from './client-options.js';

/**
 * Limits progress callbacks to about one per `intervalMs` (a download delivers a chunk every few
 * kilobytes: 940 calls for 63 MB). A stage's first report and its end (bytesDone === totalBytes)
 * always pass, so a progress bar starts at once and reaches 100 %.
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
    if (p.stage === lastStage && (end ? lastDone === p.bytesDone : t - lastAt < intervalMs)) return;
    lastAt = t;
    lastStage = p.stage;
    lastDone = p.bytesDone;
    onProgress(p);
  };
}
