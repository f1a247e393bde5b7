/**
 * The client's single network seam. Everything the client reads from a repository goes through a
 * Fetcher: TUF metadata through `fetchBytes`, targets through `downloadTo`. It bounds every read by
 * a length that the caller takes from signed metadata (or a configured cap), stops a server that
 * stalls or takes too long, and resumes interrupted downloads with HTTP Range.
 *
 * The network itself is injected (`fetch`), with Node's global fetch as the real default.
 */
import { open, stat, truncate, type FileHandle } from 'node:fs/promises';
import { DataError, TransportError } from '../errors.js';
import { networkFailure } from './network-failure.js';

export type FetchFn = typeof globalThis.fetch;

export interface FetcherOptions {
  /** The network; defaults to Node's global fetch. */
  fetch?: FetchFn;
  /** Extra request headers, e.g. `Authorization` for a private repository. */
  headers?: Record<string, string>;
  /**
   * Limit for a whole request, body included, in milliseconds. Defaults to 60 s for `fetchBytes`
   * (metadata is small) and to no limit for `downloadTo` (archives can be large; the stall timeout
   * still applies). Set it to bound target downloads too.
   */
  timeoutMs?: number;
  /** Fail when no byte arrives for this long, in milliseconds (default 30 s). */
  stallTimeoutMs?: number;
  /**
   * Fail when fewer than this many bytes per second arrive, averaged over each `rateWindowMs`
   * (default 1024 B/s over 30 s windows; 0 turns it off). It stops a server that trickles a byte
   * just often enough to dodge the stall timeout (slow retrieval), without capping the total
   * time of a large download on an honest slow link.
   */
  minBytesPerSecond?: number;
  rateWindowMs?: number;
}

export interface Fetcher {
  /** A whole small file (metadata). Refuses (DataError 'TOO_LONG') past maxLength, TransportError on HTTP errors/timeouts. */
  fetchBytes(url: string, maxLength: number, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
  /** Appends bytes [offset, maxLength) of url to the file `partialPath` (HTTP Range when offset > 0;
   *  a server that ignores Range: restart from 0). Stops with DataError past maxLength. A file
   *  already maxLength long (maxLength > 0) is only trimmed to it: no request.
   *  `onBytes(n)` reports the bytes written; when the download restarts from 0 after an offset,
   *  it first reports `-offset`, so a running sum stays equal to the file's size. */
  downloadTo(
    url: string,
    partialPath: string,
    options: { offset: number; maxLength: number; signal?: AbortSignal; onBytes?: (n: number) => void },
  ): Promise<void>;
}

/** A TransportError that carries the HTTP status of the answer (for 404 "no newer root" logic). */
export class HttpStatusError extends TransportError {
  override readonly name: string = 'HttpStatusError';
  readonly status: number;
  readonly url: string;

  constructor(url: string, status: number) {
    super(
      'HTTP_ERROR',
      `The update server answered HTTP ${status} for ${url}. Check the repository URL and that the ` +
        `server is up, then retry.`,
    );
    this.status = status;
    this.url = url;
  }
}

const DEFAULT_METADATA_TIMEOUT_MS = 60_000;
const DEFAULT_STALL_TIMEOUT_MS = 30_000;
const DEFAULT_MIN_BYTES_PER_SECOND = 1024;
const DEFAULT_RATE_WINDOW_MS = 30_000;

export function createFetcher(options: FetcherOptions = {}): Fetcher {
  const base: BaseRequest = {
    fetchFn: options.fetch ?? globalThis.fetch,
    headers: { ...options.headers },
    stallMs: options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
    rate: {
      minBytesPerSecond: options.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND,
      windowMs: options.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS,
    },
  };

  async function fetchBytes(
    url: string,
    maxLength: number,
    opts: { signal?: AbortSignal } = {},
  ): Promise<Uint8Array> {
    checkMaxLength(maxLength);
    const chunks: Uint8Array[] = [];
    let total = 0;
    await request(url, {
      ...base,
      timeoutMs: options.timeoutMs ?? DEFAULT_METADATA_TIMEOUT_MS,
      signal: opts.signal,
      prepare: (response) => {
        if (response.status !== 200) throw new HttpStatusError(url, response.status);
        refuseDeclaredLength(response, url, maxLength);
      },
      onChunk: (chunk) => {
        // Stop reading as soon as the server sends more than we will ever accept (endless data).
        if (total + chunk.length > maxLength) throw tooLong(url, maxLength);
        total += chunk.length;
        chunks.push(chunk);
        return Promise.resolve();
      },
    });
    return concat(chunks, total);
  }

  async function downloadTo(url: string, partialPath: string, opts: DownloadOptions): Promise<void> {
    checkMaxLength(opts.maxLength);
    if (!Number.isSafeInteger(opts.offset) || opts.offset < 0 || opts.offset > opts.maxLength)
      throw new RangeError(`offset ${opts.offset} must be an integer in [0, maxLength]`);
    const offset = await resumableOffset(partialPath, opts.offset);
    if (offset === opts.maxLength && offset > 0) {
      // Already complete (the caller verifies); drop anything past the signed length.
      await truncate(partialPath, offset);
      return;
    }
    const attempt: DownloadAttempt = {
      url,
      partialPath,
      offset,
      opts,
      request: { ...base, timeoutMs: options.timeoutMs },
      restartReported: false,
    };
    for (;;) {
      try {
        await downloadOnce(attempt);
        return;
      } catch (error) {
        // 416: what we hold may already be the whole file, or the file changed: start over once.
        if (error instanceof HttpStatusError && error.status === 416 && attempt.offset > 0) {
          attempt.offset = 0;
          continue;
        }
        throw error;
      }
    }
  }

  return { fetchBytes, downloadTo };
}

type DownloadOptions = Parameters<Fetcher['downloadTo']>[2];

/** The options of every request of one fetcher. */
interface BaseRequest {
  fetchFn: FetchFn;
  /** The caller's configured headers: sent to the first URL's origin only (not across redirects). */
  headers: Record<string, string>;
  stallMs: number;
  rate: { minBytesPerSecond: number; windowMs: number };
}

interface RequestOptions extends BaseRequest {
  /** A Range header value, sent to wherever redirects lead. */
  range?: string;
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  prepare: (response: Response) => void | Promise<void>;
  onChunk: (chunk: Uint8Array) => Promise<void>;
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Resume only from bytes that are really there; anything else starts over. */
async function resumableOffset(partialPath: string, offset: number): Promise<number> {
  if (offset === 0) return 0;
  const size = await stat(partialPath).then(
    (s) => s.size,
    () => -1,
  );
  return size < offset ? 0 : offset;
}

/** One download of `url` into `partialPath` from `offset`; shared across the retry from 0. */
interface DownloadAttempt {
  readonly url: string;
  readonly partialPath: string;
  offset: number;
  readonly opts: DownloadOptions;
  readonly request: BaseRequest & { timeoutMs: number | undefined };
  /** The restart from 0 is reported to onBytes once, however often it happens. */
  restartReported: boolean;
}

/** One GET that appends to the partial file, from the byte the server's answer starts at. */
async function downloadOnce(a: DownloadAttempt): Promise<void> {
  const { url, opts } = a;
  let fh: FileHandle | undefined;
  let position = a.offset;
  try {
    await request(url, {
      ...a.request,
      ...(a.offset > 0 ? { range: `bytes=${a.offset}-` } : {}),
      signal: opts.signal,
      prepare: async (response) => {
        const start = answerStart(response, url, a.offset);
        refuseDeclaredLength(response, url, opts.maxLength - start);
        fh = await open(a.partialPath, start === 0 ? 'w' : 'r+');
        if (start > 0) await fh.truncate(start);
        if (start === 0 && opts.offset > 0 && !a.restartReported) {
          a.restartReported = true;
          opts.onBytes?.(-opts.offset);
        }
        position = start;
      },
      onChunk: async (chunk) => {
        if (fh === undefined) throw new Error('internal: no file open');
        const room = opts.maxLength - position;
        const take = chunk.length > room ? chunk.subarray(0, room) : chunk;
        if (take.length > 0) {
          await writeAll(fh, take, position);
          position += take.length;
          opts.onBytes?.(take.length);
        }
        // More bytes than the signed length: keep the first maxLength, stop reading, refuse.
        if (take.length < chunk.length) throw tooLong(url, opts.maxLength);
      },
    });
  } finally {
    if (fh !== undefined) await fh.close();
  }
}

/** The byte of the file that the answer to a (possibly ranged) GET starts at. */
function answerStart(response: Response, url: string, offset: number): number {
  if (offset > 0 && response.status === 206) {
    const start = parseContentRangeStart(response.headers.get('content-range'), url);
    if (start !== offset)
      throw new TransportError(
        'BAD_RANGE',
        `The update server answered a resume request for ${url} from byte ${start} ` +
          `instead of ${offset}. Delete the partial download and retry.`,
      );
    return start;
  }
  // A server that ignores Range sends the whole file: start over from byte 0.
  if (response.status === 200) return 0;
  throw new HttpStatusError(url, response.status);
}

/**
 * One GET with a whole-request timeout, a stall timeout (reset by every chunk) and the caller's
 * abort signal. Our own reasons for stopping (timeouts, TOO_LONG) come out as our errors; the body
 * is cancelled so the connection does not keep delivering bytes.
 */
async function request(url: string, o: RequestOptions): Promise<void> {
  const watch = watchRequest(url, o);
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    const response = await followRedirects(url, o, watch);
    try {
      await o.prepare(response);
    } catch (error) {
      await response.body?.cancel().catch(() => undefined);
      throw error;
    }
    if (response.body === null) return;
    reader = response.body.getReader();
    await readBody(reader, url, o, watch);
  } catch (error) {
    if (reader !== undefined) await reader.cancel().catch(() => undefined);
    else watch.abort();
    throw watch.reason() ?? error;
  } finally {
    watch.dispose();
  }
}

/** What stops one request: the caller's signal and our three timers (total, stall, rate). */
interface RequestWatch {
  readonly signal: AbortSignal;
  /** Our own reason for stopping, once there is one (it wins over the error it causes). */
  reason(): Error | undefined;
  abort(): void;
  /** Bytes arrived: re-arms the stall timer and counts for the rate window. */
  arrived(n: number): void;
  dispose(): void;
}

function watchRequest(url: string, o: RequestOptions): RequestWatch {
  const controller = new AbortController();
  let ownReason: Error | undefined;
  const stop = (reason: Error): void => {
    if (ownReason === undefined) ownReason = reason;
    controller.abort(reason);
  };
  const onCallerAbort = (): void =>
    stop(
      new TransportError('ABORTED', `The download of ${url} was cancelled.`, {
        cause: o.signal?.reason,
      }),
    );
  if (o.signal?.aborted === true) onCallerAbort();
  o.signal?.addEventListener('abort', onCallerAbort, { once: true });
  const total = totalTimer(url, o.timeoutMs, stop);
  const stall = stallTimer(url, o.stallMs, stop);
  const rate = rateTimer(url, o.rate, stop);
  stall.arm();
  return {
    signal: controller.signal,
    reason: () => ownReason,
    abort: () => controller.abort(),
    arrived: (n) => {
      stall.arm();
      rate.count(n);
    },
    dispose: () => {
      clearTimeout(total);
      stall.clear();
      rate.clear();
      o.signal?.removeEventListener('abort', onCallerAbort);
    },
  };
}

type Stop = (reason: Error) => void;

function totalTimer(url: string, timeoutMs: number | undefined, stop: Stop): NodeJS.Timeout | undefined {
  if (timeoutMs === undefined || timeoutMs <= 0) return undefined;
  return setTimeout(
    () =>
      stop(
        new TransportError(
          'TIMEOUT',
          `The download of ${url} took longer than ${timeoutMs} ms. Check the network and retry.`,
        ),
      ),
    timeoutMs,
  );
}

function stallTimer(url: string, stallMs: number, stop: Stop): { arm(): void; clear(): void } {
  let stall: NodeJS.Timeout | undefined;
  return {
    arm: () => {
      clearTimeout(stall);
      if (stallMs > 0)
        stall = setTimeout(
          () =>
            stop(
              new TransportError(
                'STALLED',
                `The update server sent no data for ${stallMs} ms while downloading ${url}. ` +
                  `Check the network and retry; the download resumes where it stopped.`,
              ),
            ),
          stallMs,
        );
    },
    clear: () => clearTimeout(stall),
  };
}

function rateTimer(
  url: string,
  rate: RequestOptions['rate'],
  stop: Stop,
): { count(n: number): void; clear(): void } {
  // Bytes that arrived in the current rate window; checked at the end of each window.
  let windowBytes = 0;
  const minPerWindow = (rate.minBytesPerSecond * rate.windowMs) / 1000;
  const timer =
    rate.minBytesPerSecond > 0 && rate.windowMs > 0
      ? setInterval(() => {
          if (windowBytes < minPerWindow)
            stop(
              new TransportError(
                'TOO_SLOW',
                `The update server sent only ${windowBytes} bytes in ${rate.windowMs} ms while ` +
                  `downloading ${url} (less than ${rate.minBytesPerSecond} bytes per second). ` +
                  `Check the network and retry; the download resumes where it stopped.`,
              ),
            );
          windowBytes = 0;
        }, rate.windowMs)
      : undefined;
  return {
    count: (n) => {
      windowBytes += n;
    },
    clear: () => clearInterval(timer),
  };
}

/**
 * The GET of `url`, following redirects here, not in fetch: fetch keeps custom headers (a private
 * repository's token) on a redirect to another origin, even to plain http. Those go to the first
 * origin only.
 */
async function followRedirects(url: string, o: RequestOptions, watch: RequestWatch): Promise<Response> {
  let current = url;
  for (let hops = 0; ; hops++) {
    const sameOrigin = new URL(current).origin === new URL(url).origin;
    let response: Response;
    try {
      response = await o.fetchFn(current, {
        headers: {
          ...(sameOrigin ? o.headers : {}),
          ...(o.range !== undefined ? { Range: o.range } : {}),
          'Accept-Encoding': 'identity',
        },
        signal: watch.signal,
        redirect: 'manual',
      });
    } catch (cause) {
      throw (
        watch.reason() ??
        new TransportError(
          'NETWORK',
          `Could not reach the update server at ${url}: ${networkFailure(cause)}. Check the URL and the network, then retry.`,
          { cause },
        )
      );
    }
    const location = REDIRECTS.has(response.status) ? response.headers.get('location') : null;
    if (location === null) return response;
    await response.body?.cancel().catch(() => undefined);
    current = redirectTarget(url, current, location, hops);
  }
}

/** Where a redirect leads; refused past MAX_REDIRECTS hops or to anything but http(s). */
function redirectTarget(url: string, current: string, location: string, hops: number): string {
  let next: URL;
  try {
    next = new URL(location, current);
  } catch {
    next = new URL('invalid:');
  }
  if (hops >= MAX_REDIRECTS || (next.protocol !== 'http:' && next.protocol !== 'https:'))
    throw new TransportError(
      'BAD_REDIRECT',
      `The update server redirected ${url} too many times or to an address that is not http(s). ` +
        `Check the repository URL.`,
    );
  return next.href;
}

/** Hands each chunk of the body to `onChunk` until the end, or until one of our reasons stops it. */
async function readBody(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  url: string,
  o: RequestOptions,
  watch: RequestWatch,
): Promise<void> {
  for (;;) {
    let step: Awaited<ReturnType<typeof reader.read>>;
    try {
      step = await reader.read();
    } catch (cause) {
      throw (
        watch.reason() ??
        new TransportError(
          'NETWORK',
          `The connection to the update server broke while downloading ${url}: ${networkFailure(cause)}. Retry.`,
          { cause },
        )
      );
    }
    if (step.done) return;
    watch.arrived(step.value.length);
    await o.onChunk(step.value);
    const reason = watch.reason();
    if (reason !== undefined) throw reason;
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;

function checkMaxLength(maxLength: number): void {
  if (!Number.isSafeInteger(maxLength) || maxLength < 0)
    throw new RangeError(`maxLength ${maxLength} must be a non-negative integer`);
}

function tooLong(url: string, maxLength: number): DataError {
  return new DataError(
    'TOO_LONG',
    `The update server sent more than the expected ${maxLength} bytes for ${url}. ` +
      `The file was refused; the server or a mirror may be hostile or misconfigured.`,
  );
}

/** A declared Content-Length above the limit is refused before reading any of the body. */
function refuseDeclaredLength(response: Response, url: string, limit: number): void {
  const declared = response.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) throw tooLong(url, limit);
}

/** `bytes START-END/TOTAL` (TOTAL may be `*`) -> START. */
function parseContentRangeStart(value: string | null, url: string): number {
  const m = value === null ? null : /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim());
  if (m === null)
    throw new TransportError(
      'BAD_RANGE',
      `The update server answered a resume request for ${url} without a valid Content-Range ` +
        `(${String(value)}). Delete the partial download and retry.`,
    );
  return Number(m[1]);
}

async function writeAll(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
