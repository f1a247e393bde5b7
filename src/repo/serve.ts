import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve, sep } from 'node:path';
import { UsageError, messageOf } from '../errors.js';
import { isTempName } from '../io/temp-name.js';

export interface ServeOptions {
  /** The folder to serve (a repository folder, with metadata/ and targets/). */
  readonly root: string;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1: a development server, not for the open network. */
  readonly host?: string;
  /** Called once per request (for logs). */
  readonly onRequest?: (method: string, path: string, status: number) => void;
}

export interface RunningServer {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Parses one `Range: bytes=...` header against a file size. Returns undefined for no (or an
 * ignorable multi-) range, 'unsatisfiable' for a range outside the file.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  let start: number;
  let end: number;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (!Number.isSafeInteger(start) || start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

/**
 * Serves a folder of static files over HTTP for development and tests: GET and HEAD, byte ranges
 * (clients resume downloads), no directory listings, nothing outside the folder.
 */
export function serveRepository(options: ServeOptions): Promise<RunningServer> {
  const root = resolve(options.root);
  let realRoot = root;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const done = (status: number, body = ''): void => {
      res.writeHead(status, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      options.onRequest?.(req.method ?? '', req.url ?? '', status);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return done(405, 'method not allowed\n');
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return done(400, 'bad path\n');
    }
    if (pathname.includes('\0') || pathname.split('/').some((p) => p === '..' || isTempName(p)))
      return done(404, 'not found\n');
    const file = resolve(root, `.${pathname}`);
    if (file !== root && !file.startsWith(root + sep)) return done(404, 'not found\n');
    let size: number;
    try {
      // A symlink inside the folder must not lead outside it.
      const real = await realpath(file);
      if (real !== realRoot && !real.startsWith(realRoot + sep)) return done(404, 'not found\n');
      const info = await stat(real);
      if (!info.isFile()) return done(404, 'not found\n');
      size = info.size;
    } catch {
      return done(404, 'not found\n');
    }
    const type = file.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    const headers: Record<string, string | number> = {
      'content-type': type,
      'accept-ranges': 'bytes',
      'cache-control': 'no-cache',
    };
    const range = parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'content-range': `bytes */${size}`, 'content-length': 0 });
      res.end();
      options.onRequest?.(req.method, pathname, 416);
      return;
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    const status = range === undefined ? 200 : 206;
    headers['content-length'] = size === 0 ? 0 : end - start + 1;
    if (range !== undefined) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(status, headers);
    options.onRequest?.(req.method, pathname, status);
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    const stream = createReadStream(file, { start, end });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  return realpath(root).then(
    (r) => {
      realRoot = r;
      return listen(server, options);
    },
    (cause: unknown) => {
      throw new UsageError('NOT_A_REPOSITORY', `cannot serve ${root}: ${messageOf(cause)}`, { cause });
    },
  );
}

function listen(server: ReturnType<typeof createServer>, options: ServeOptions): Promise<RunningServer> {
  return new Promise((resolvePromise, reject) => {
    server.once('error', (cause: NodeJS.ErrnoException) => reject(listenError(cause, options)));
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolvePromise({
        url: `http://${host}:${address.port}`,
        port: address.port,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

/** Errors of listen() that mean "pick another port or host", not a bug. */
const LISTEN_ADVICE: Readonly<Record<string, string>> = {
  EADDRINUSE: 'is already in use: stop the other server or pick another port (0 picks a free one)',
  EACCES: 'needs privileges: use a port above 1023',
  EADDRNOTAVAIL: 'is not an address of this machine: use host 127.0.0.1',
  ENOTFOUND: 'is not a known host name: use host 127.0.0.1',
};

function listenError(cause: NodeJS.ErrnoException, options: ServeOptions): Error {
  const advice = cause.code === undefined ? undefined : LISTEN_ADVICE[cause.code];
  const where = `${options.host ?? '127.0.0.1'}:${options.port ?? 0}`;
  return new UsageError(
    'CANNOT_LISTEN',
    advice === undefined
      ? `cannot listen on ${where}: ${messageOf(cause)}`
      : `${where} ${advice} (${messageOf(cause)})`,
    { cause },
  );
}
