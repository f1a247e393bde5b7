/**
 * Adapts our Fetcher to the fetcher interface tuf-js's Updater calls (`downloadBytes` for
 * metadata). tuf-js decides "no newer root" from its own DownloadHTTPError with status 403/404
 * (spec 5.3.3), so those statuses are rethrown as that class, keeping ours as `cause`.
 *
 * tuf-js flattens some failures into strings (`Unable to load snapshot metadata error ...`), so the
 * adapter also remembers the last failure of this refresh: the error wrapper uses it as the cause.
 */
import type { Updater } from 'tuf-js';
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import type { Fetcher } from '../fetcher.js';
import { HttpStatusError } from '../fetcher.js';

export type TufJsFetcher = NonNullable<ConstructorParameters<typeof Updater>[0]['fetcher']>;

export interface FailureRecorder {
  /** The most recent failure of a network or verification step (cleared when a step starts). */
  last: unknown;
}

export function tufJsFetcher(
  fetcher: Fetcher,
  recorder: FailureRecorder,
  signal?: AbortSignal,
): TufJsFetcher {
  const downloadBytes = async (url: string, maxLength: number): Promise<Buffer> => {
    recorder.last = undefined;
    try {
      const bytes = await fetcher.fetchBytes(url, maxLength, signal === undefined ? {} : { signal });
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      recorder.last = error;
      if (error instanceof HttpStatusError && (error.status === 403 || error.status === 404)) {
        const e = new DownloadHTTPError(error.message, error.status);
        (e as { cause?: unknown }).cause = error;
        throw e;
      }
      throw error;
    }
  };
  return {
    downloadBytes,
    // The Updater only calls downloadFile from downloadTarget, which notsotuf does not use: targets
    // go through Fetcher.downloadTo (resumable) and verifyTargetFile.
    downloadFile: () => Promise.reject(new Error('internal: target downloads go through Fetcher.downloadTo')),
  };
}
