/**
 * A real HTTP server on 127.0.0.1 (port 0) that serves a map of files and can misbehave per path:
 * wrong status, endless data, trickling, cutting the connection, ignoring Range. It records every
 * request path, so tests can assert what a client asked for (or that it asked nothing).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Behaviour =
  /** Answer with this status and no body. */
  | { kind: 'status'; status: number }
  /** Send these bytes instead of the file (200). */
  | { kind: 'bytes'; body: Uint8Array }
  /** Send the file, then keep sending filler bytes until the client stops reading (bounded). */
  | { kind: 'endless'; limit?: number }
  /** Send `chunk` bytes every `intervalMs` until the client gives up (or `limit` bytes, or 8 s). */
  | { kind: 'trickle'; chunk: number; intervalMs: number; limit?: number }
  /** Send the first `after` bytes of the file, then destroy the connection. */
  | { kind: 'cut'; after: number }
  /** Send the headers and the first `after` bytes, then go silent (for 8 s, then hang up). */
  | { kind: 'stall'; after: number }
  /** Serve the whole file with 200 even to a Range request. */
  | { kind: 'ignore-range' }
  /** Answer a Range request with 206 but a Content-Range starting elsewhere. */
  | { kind: 'wrong-range' };

export interface HostileServer {
  /** Base URL, e.g. http://127.0.0.1:43123 (no trailing slash). */
  readonly url: string;
  /** Request paths in order (raw, still URL-encoded), with a Range header noted as `path [range]`. */
  readonly requests: string[];
  /** Served files by raw URL path. */
  readonly files: Map<string, Uint8Array>;
  /** Make `path` misbehave (once, or every time when `times` is undefined). */
  behave(path: string, behaviour: Behaviour, times?: number): void;
  /** Remove every behaviour. */
  reset(): void;
  /** Total bytes of response bodies written (to prove a client stopped reading). */
  readonly bytesSent: number;
  close(): Promise<void>;
}

/**
 * How long a trickle or stall lasts at most: a client whose timeouts were removed then fails its
 * test (short or broken body) instead of hanging the suite.
 */
const MISBEHAVE_MS = 8000;

export async function startHostileServer(files: Map<string, Uint8Array> = new Map()): Promise<HostileServer> {
  const behaviours = new Map<string, { b: Behaviour; times: number | undefined }>();
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let bytesSent = 0;

  const write = (res: ServerResponse, chunk: Uint8Array): boolean => {
    bytesSent += chunk.length;
    return res.write(chunk);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!;
    const range = req.headers.range;
    requests.push(range === undefined ? path : `${path} [${range}]`);
    let behaviour: Behaviour | undefined;
    const entry = behaviours.get(path);
    if (entry !== undefined) {
      behaviour = entry.b;
      if (entry.times !== undefined && --entry.times <= 0) behaviours.delete(path);
    }
    const file = files.get(path);
    if (behaviour?.kind === 'status') {
      res.writeHead(behaviour.status).end();
      return;
    }
    if (behaviour?.kind === 'bytes') {
      res.writeHead(200, { 'content-length': behaviour.body.length });
      bytesSent += behaviour.body.length;
      res.end(behaviour.body);
      return;
    }
    if (file === undefined) {
      res.writeHead(404).end();
      return;
    }
    if (behaviour?.kind === 'endless' || behaviour?.kind === 'trickle') {
      // No Content-Length: the client cannot know the size up front and must count itself.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const limit = behaviour.limit ?? 64 * 1024 * 1024;
      let sent = 0;
      if (behaviour.kind === 'endless') {
        const filler = Buffer.alloc(16 * 1024, 0x41);
        const pump = (): void => {
          if (sent === 0) {
            write(res, file);
            sent += file.length;
          }
          while (sent < limit && !res.destroyed) {
            sent += filler.length;
            if (!write(res, filler)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
      } else {
        const { chunk, intervalMs } = behaviour;
        const body = Buffer.concat([file, Buffer.alloc(Math.min(limit, 1024 * 1024), 0x42)]);
        const until = Date.now() + MISBEHAVE_MS;
        const timer = setInterval(() => {
          if (res.destroyed || sent >= body.length || Date.now() > until) {
            clearInterval(timer);
            timers.delete(timer);
            res.end();
            return;
          }
          write(res, body.subarray(sent, sent + chunk));
          sent += chunk;
        }, intervalMs);
        timers.add(timer);
      }
      return;
    }
    if (behaviour?.kind === 'cut' || behaviour?.kind === 'stall') {
      res.writeHead(200, { 'content-length': file.length });
      write(res, file.subarray(0, behaviour.after));
      const t = setTimeout(
        () => {
          timers.delete(t);
          res.socket?.destroy();
        },
        behaviour.kind === 'cut' ? 20 : MISBEHAVE_MS,
      );
      timers.add(t);
      return;
    }
    const m = range === undefined ? null : /^bytes=(\d+)-$/.exec(range);
    if (m !== null && behaviour?.kind !== 'ignore-range') {
      const start = Number(m[1]);
      if (start >= file.length) {
        res.writeHead(416, { 'content-range': `bytes */${file.length}` }).end();
        return;
      }
      const from = behaviour?.kind === 'wrong-range' ? 0 : start;
      const body = file.subarray(from);
      res.writeHead(206, {
        'content-length': body.length,
        'content-range': `bytes ${from}-${file.length - 1}/${file.length}`,
      });
      bytesSent += body.length;
      res.end(body);
      return;
    }
    res.writeHead(200, { 'content-length': file.length });
    bytesSent += file.length;
    res.end(file);
  };

  const server = createServer(handle);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    files,
    get bytesSent() {
      return bytesSent;
    },
    behave(path, b, times) {
      behaviours.set(path, { b, times });
    },
    reset() {
      behaviours.clear();
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
