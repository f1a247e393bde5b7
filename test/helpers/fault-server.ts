/**
 * A real HTTP server on 127.0.0.1 (port 0) over a repository folder whose answers a test scripts
 * per request: the next N requests whose path matches answer 404/500, close the connection half
 * way, or stall (headers and part of the body, then silence with the socket left open). Files are
 * read from disk on each request, so a test can publish more releases while it runs. Every request
 * is logged (path, Range header, status, the fault applied), so tests can assert what a client
 * asked for, e.g. that a second run resumed with a Range request.
 */
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join, normalize, sep } from 'node:path';

export type Fault =
  /** Answer with this status and no body. */
  | { readonly kind: 'status'; readonly status: number }
  /** Send the headers (full Content-Length) and `fraction` of the body, then destroy the socket. */
  | { readonly kind: 'cut'; readonly fraction: number }
  /** Send the headers and `fraction` of the body, then go silent with the socket open. */
  | { readonly kind: 'stall'; readonly fraction: number }
  /** Destroy the socket before any response (connection reset). */
  | { readonly kind: 'reset' }
  /** Answer 200 with these bytes instead of the file (a hostile mirror). */
  | { readonly kind: 'body'; readonly body: Uint8Array };

/** Which requests a fault applies to: a path suffix (e.g. `timestamp.json`), a RegExp or a predicate. */
export type PathMatch = string | RegExp | ((path: string) => boolean);

export interface FaultLogEntry {
  readonly path: string;
  readonly range: string | undefined;
  status: number;
  readonly fault: Fault['kind'] | undefined;
}

export interface FaultServer {
  readonly url: string;
  readonly log: FaultLogEntry[];
  /** The next `times` requests matching `match` (default 1; Infinity = all) get `fault`. */
  fault(match: PathMatch, fault: Fault, times?: number): void;
  /** Forget every scripted fault not yet used. */
  clearFaults(): void;
  close(): Promise<void>;
}

function matches(match: PathMatch, path: string): boolean {
  if (typeof match === 'string') return path.endsWith(match);
  if (match instanceof RegExp) return match.test(path);
  return match(path);
}

export async function startFaultServer(root: string): Promise<FaultServer> {
  const script: { match: PathMatch; fault: Fault; left: number }[] = [];
  const log: FaultLogEntry[] = [];
  const sockets = new Set<Socket>();

  const take = (path: string): Fault | undefined => {
    const i = script.findIndex((s) => s.left > 0 && matches(s.match, path));
    if (i < 0) return undefined;
    const s = script[i]!;
    s.left -= 1;
    if (s.left <= 0) script.splice(i, 1);
    return s.fault;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const range = req.headers.range;
    const fault = take(path);
    const entry: FaultLogEntry = { path, range, status: 0, fault: fault?.kind };
    log.push(entry);
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      entry.status = fault.status;
      res.writeHead(fault.status).end();
      return;
    }
    if (fault?.kind === 'body') {
      entry.status = 200;
      res.writeHead(200, { 'content-length': fault.body.length }).end(fault.body);
      return;
    }
    const file = normalize(join(root, path));
    let body: Buffer;
    try {
      if (!file.startsWith(root + sep) || !(await stat(file)).isFile()) throw new Error('not a file');
      body = await readFile(file);
    } catch {
      entry.status = 404;
      res.writeHead(404).end();
      return;
    }
    let start = 0;
    const m = range === undefined ? null : /^bytes=(\d+)-$/.exec(range);
    if (m !== null) {
      start = Number(m[1]);
      if (start >= body.length) {
        entry.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
    }
    const part = body.subarray(start);
    const headers: Record<string, string | number> = {
      'content-length': part.length,
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
    };
    if (m !== null) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    entry.status = m !== null ? 206 : 200;
    res.writeHead(entry.status, headers);
    if (fault?.kind === 'cut' || fault?.kind === 'stall') {
      const n = Math.floor(part.length * fault.fraction);
      // flushHeaders + write, then let the bytes reach the client before cutting.
      res.write(part.subarray(0, n));
      if (fault.kind === 'cut') setTimeout(() => res.socket?.destroy(), 30).unref();
      return;
    }
    res.end(part);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.socket?.destroy());
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    fault: (match, fault, times = 1) => script.push({ match, fault, left: times }),
    clearFaults: () => script.splice(0, script.length),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
