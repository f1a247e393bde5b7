/**
 * The one test HTTP server: real HTTP on 127.0.0.1 (port 0) over a folder (a repository, read
 * from disk on each request, so a test can publish more while it runs) and/or a map of files held
 * in memory (served first, so a test can replace one file). A test scripts how it answers per path
 * (`behave`): a status, other bytes, a delay, a redirect, a reset or cut connection, a stall,
 * endless or trickling data, Range ignored or answered wrongly (any Content-Range). Single-range requests
 * (`bytes=N-`, `bytes=N-M`) are answered with 206. Every request is logged (path, Range, headers,
 * status, body bytes sent, the behaviour applied), so a test can assert what a client asked for.
 *
 * The servers that stay apart in test/: real nginx (test/helpers/nginx.ts), s3proxy and the
 * forwarding proxy in front of it (test/helpers/s3proxy.ts), the product's own `serve`
 * (src/repo/serve.ts), and a Unix socket that is a file to pack (test/archive/pack.test.ts).
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join, normalize, resolve, sep } from 'node:path';

/** How much of the body is sent before a cut or stall: a byte count or a fraction of it. */
export type Amount = { readonly after: number } | { readonly fraction: number };

export type Behaviour =
  /** Answer with this status and no body. */
  | { readonly kind: 'status'; readonly status: number }
  /** Answer 200 with these bytes instead of the file (a hostile mirror). */
  | { readonly kind: 'body'; readonly body: Uint8Array }
  /** Wait `ms`, then answer as usual. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Answer with a redirect to `location` (302 unless `status` says otherwise). */
  | { readonly kind: 'redirect'; readonly location: string; readonly status?: number }
  /** Destroy the socket before any response (connection reset). */
  | { readonly kind: 'reset' }
  /** Headers with the full Content-Length, part of the body, then the connection is destroyed. */
  | ({ readonly kind: 'cut' } & Amount)
  /** Headers and part of the body, then silence with the socket open (for 8 s, then hang up). */
  | ({ readonly kind: 'stall' } & Amount)
  /** The file, then filler bytes until the client stops reading (or `limit` bytes); no length. */
  | { readonly kind: 'endless'; readonly limit?: number }
  /**
   * `chunk` bytes every `intervalMs` (the file, then up to `limit` filler bytes; 0: the file only)
   * until the client gives up or `forMs` (default 8 s) pass.
   */
  | {
      readonly kind: 'trickle';
      readonly chunk: number;
      readonly intervalMs: number;
      readonly limit?: number;
      readonly forMs?: number;
    }
  /** The whole file with 200 even to a Range request. */
  | { readonly kind: 'ignore-range' }
  /** A Range request answered with 206 but a Content-Range starting at 0. */
  | { readonly kind: 'wrong-range' }
  /**
   * 206 with this Content-Range (none: null) and the requested bytes, or the whole file when the
   * request has no Range (a server that answers 206 to a plain GET).
   */
  | { readonly kind: 'content-range'; readonly value: string | null };

/**
 * Which requests a behaviour applies to: a string matches a path that ends with it (a whole path,
 * `/metadata/timestamp.json`, matches only itself), a RegExp is tested, a function is called; each
 * on the decoded path and on the raw (URL-encoded) one.
 */
export type PathMatch = string | RegExp | ((path: string) => boolean);

export interface RequestLogEntry {
  readonly method: string;
  /** The decoded URL path (no query). */
  readonly path: string;
  /** The URL path as sent, still URL-encoded. */
  readonly rawPath: string;
  readonly range: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** The behaviour applied, if any. */
  readonly behaviour: Behaviour['kind'] | undefined;
  /** 0 when the connection was reset before an answer. */
  status: number;
  /** Body bytes written so far. */
  bytes: number;
}

export interface TestServer {
  /** Base URL, e.g. http://127.0.0.1:43123 (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** Every request in order (a test may empty it: `log.length = 0`). */
  readonly log: RequestLogEntry[];
  /** The log as `rawPath` or `rawPath [range]` strings. */
  readonly requests: string[];
  /** Files held in memory by raw URL path, served before the folder. */
  readonly files: Map<string, Uint8Array>;
  /** Total body bytes written (to prove a client stopped reading). */
  readonly bytesSent: number;
  /**
   * The next `times` requests matching `match` (default: all of them) get `behaviour`. The newest
   * rule that matches wins, so a later call overrides an earlier one for the same path.
   */
  behave(match: PathMatch, behaviour: Behaviour, times?: number): void;
  /** Forget every behaviour: answer honestly again. */
  clearBehaviours(): void;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface TestServerOptions {
  /** A folder to serve (files under it, by decoded URL path). */
  readonly root?: string;
  /** Files held in memory by raw URL path (the map is used as is: later changes are served). */
  readonly files?: Map<string, Uint8Array>;
  /** Answer 401 to any request without exactly this Authorization header. */
  readonly authorization?: string;
}

/** How long a stall or trickle lasts at most: a client without timeouts fails instead of hanging. */
const MISBEHAVE_MS = 8000;
/**
 * After the bytes before a cut are flushed, a pause so the client takes them before the drop. A
 * fetch body that errors drops the chunks still queued in it, so a client busy elsewhere (opening
 * its file, on a loaded machine) when the drop comes loses them: 30 ms lost them once at load 20.
 */
const CUT_PAUSE_MS = 250;
const FILLER = 0x41;

/** Whether `path` is one that `match` selects (the rule `behave` uses). */
export function matchesPath(match: PathMatch, path: string): boolean {
  if (typeof match === 'string') return path.endsWith(match);
  if (match instanceof RegExp) return match.test(path);
  return match(path);
}

function decodePath(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** A file to serve: its size and a way to read a part of it. */
interface Source {
  readonly size: number;
  bytes(): Promise<Uint8Array>;
  /** A readable of bytes [start, end). */
  stream(start: number, end: number): NodeJS.ReadableStream | Uint8Array;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const root = options.root === undefined ? undefined : resolve(options.root);
  const files = options.files ?? new Map<string, Uint8Array>();
  const rules: { match: PathMatch; behaviour: Behaviour; left: number }[] = [];
  const log: RequestLogEntry[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let bytesSent = 0;

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const take = (path: string, rawPath: string): Behaviour | undefined => {
    for (let i = rules.length - 1; i >= 0; i--) {
      const r = rules[i]!;
      if (!matchesPath(r.match, path) && !matchesPath(r.match, rawPath)) continue;
      r.left -= 1;
      if (r.left <= 0) rules.splice(i, 1);
      return r.behaviour;
    }
    return undefined;
  };

  const find = async (path: string, rawPath: string): Promise<Source | undefined> => {
    const held = files.get(rawPath);
    if (held !== undefined) {
      return {
        size: held.length,
        bytes: () => Promise.resolve(held),
        stream: (start, end) => held.subarray(start, end),
      };
    }
    if (root === undefined) return undefined;
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep)) return undefined;
    try {
      const s = await stat(file);
      if (!s.isFile()) return undefined;
      return {
        size: s.size,
        bytes: () => readFile(file),
        stream: (start, end) => createReadStream(file, { start, end: end - 1 }),
      };
    } catch {
      return undefined;
    }
  };

  /** Writes bytes [start, end) of `source`; resolves once they are handed to the socket. */
  const send = (res: ServerResponse, entry: RequestLogEntry, source: Source, start: number, end: number) =>
    new Promise<void>((done) => {
      if (end <= start) {
        done();
        return;
      }
      const part = source.stream(start, end);
      if (part instanceof Uint8Array) {
        entry.bytes += part.length;
        bytesSent += part.length;
        res.write(part, () => done());
        return;
      }
      res.once('close', () => {
        (part as NodeJS.ReadableStream & { destroy(): void }).destroy();
        done();
      });
      part.on('data', (chunk: Buffer) => {
        entry.bytes += chunk.length;
        bytesSent += chunk.length;
      });
      part.on('end', () => done());
      part.on('error', () => {
        res.socket?.destroy();
        done();
      });
      part.pipe(res, { end: false });
    });

  const endless = (res: ServerResponse, entry: RequestLogEntry, file: Uint8Array, limit: number): void => {
    const filler = Buffer.alloc(16 * 1024, FILLER);
    let sent = 0;
    const write = (chunk: Uint8Array): boolean => {
      sent += chunk.length;
      entry.bytes += chunk.length;
      bytesSent += chunk.length;
      return res.write(chunk);
    };
    const pump = (): void => {
      if (sent === 0) write(file);
      while (sent < limit && !res.destroyed) {
        if (!write(filler)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  };

  const trickle = (
    res: ServerResponse,
    entry: RequestLogEntry,
    file: Uint8Array,
    b: { chunk: number; intervalMs: number; limit?: number; forMs?: number },
  ): void => {
    const body = Buffer.concat([file, Buffer.alloc(Math.min(b.limit ?? Infinity, 1024 * 1024), FILLER + 1)]);
    const until = Date.now() + (b.forMs ?? MISBEHAVE_MS);
    let sent = 0;
    const timer = setInterval(() => {
      if (res.destroyed || sent >= body.length || Date.now() > until) {
        clearInterval(timer);
        timers.delete(timer);
        res.end();
        return;
      }
      const chunk = body.subarray(sent, sent + b.chunk);
      sent += chunk.length;
      entry.bytes += chunk.length;
      bytesSent += chunk.length;
      res.write(chunk);
    }, b.intervalMs);
    timers.add(timer);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const path = decodePath(rawPath);
    const range = req.headers.range;
    let behaviour = take(path, rawPath);
    const entry: RequestLogEntry = {
      method: req.method ?? 'GET',
      path,
      rawPath,
      range,
      headers: req.headers,
      behaviour: behaviour?.kind,
      status: 0,
      bytes: 0,
    };
    log.push(entry);
    const answer = (status: number, headers: Record<string, string | number> = {}): void => {
      entry.status = status;
      res.writeHead(status, headers);
    };

    if (options.authorization !== undefined && req.headers.authorization !== options.authorization) {
      answer(401);
      res.end();
      return;
    }
    if (behaviour?.kind === 'delay') {
      const { ms } = behaviour;
      await new Promise<void>((done) => later(ms, done));
      behaviour = undefined;
    }
    switch (behaviour?.kind) {
      case 'reset':
        req.socket.destroy();
        return;
      case 'status':
        answer(behaviour.status);
        res.end();
        return;
      case 'redirect':
        answer(behaviour.status ?? 302, { location: behaviour.location });
        res.end();
        return;
      case 'body':
        answer(200, { 'content-length': behaviour.body.length });
        entry.bytes += behaviour.body.length;
        bytesSent += behaviour.body.length;
        res.end(behaviour.body);
        return;
      default:
    }

    const source = await find(path, rawPath);
    if (source === undefined) {
      answer(404);
      res.end();
      return;
    }
    if (behaviour?.kind === 'endless' || behaviour?.kind === 'trickle') {
      // No Content-Length: the client cannot know the size up front and must count itself.
      const file = await source.bytes();
      answer(200, { 'content-type': 'application/octet-stream' });
      if (behaviour.kind === 'endless') endless(res, entry, file, behaviour.limit ?? 64 * 1024 * 1024);
      else trickle(res, entry, file, behaviour);
      return;
    }

    let start = 0;
    let end = source.size;
    let partial = false;
    if (range !== undefined && behaviour?.kind !== 'ignore-range') {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (m === null || Number(m[1]) >= source.size) {
        answer(416, { 'content-range': `bytes */${source.size}` });
        res.end();
        return;
      }
      start = behaviour?.kind === 'wrong-range' ? 0 : Number(m[1]);
      if (m[2] !== '') end = Math.min(end, Number(m[2]) + 1);
      partial = true;
    }
    const headers: Record<string, string | number> = {
      'content-length': end - start,
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
    };
    if (partial) headers['content-range'] = `bytes ${start}-${end - 1}/${source.size}`;
    if (behaviour?.kind === 'content-range') {
      partial = true;
      if (behaviour.value === null) delete headers['content-range'];
      else headers['content-range'] = behaviour.value;
    }
    answer(partial ? 206 : 200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (behaviour?.kind === 'cut' || behaviour?.kind === 'stall') {
      const n = 'after' in behaviour ? behaviour.after : Math.floor((end - start) * behaviour.fraction);
      res.flushHeaders();
      await send(res, entry, source, start, Math.min(end, start + n));
      later(behaviour.kind === 'cut' ? CUT_PAUSE_MS : MISBEHAVE_MS, () => res.socket?.destroy());
      return;
    }
    await send(res, entry, source, start, end);
    res.end();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.socket?.destroy());
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((done) => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      rules.splice(0, rules.length);
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      server.close(() => done());
    });
    return closed;
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    log,
    get requests() {
      return log.map((e) => (e.range === undefined ? e.rawPath : `${e.rawPath} [${e.range}]`));
    },
    files,
    get bytesSent() {
      return bytesSent;
    },
    behave: (match, behaviour, times = Infinity) => {
      rules.push({ match, behaviour, left: times });
    },
    clearBehaviours: () => {
      rules.splice(0, rules.length);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A port on 127.0.0.1 that nothing listens on (taken by a test server, then released). */
export async function freePort(): Promise<number> {
  const server = await startTestServer();
  await server.close();
  return server.port;
}
