import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';

/**
 * A real HTTP server on 127.0.0.1 (port 0) over a repository folder, for client tests: serves
 * files with single-range `Range: bytes=N-` / `bytes=N-M` support and logs every request (path,
 * Range header, status, bytes sent), so tests can assert exactly what the client downloaded.
 * `cutAfter(path)` makes the next GET of a path stop after that many body bytes (a dropped
 * connection), to test resume.
 */
export interface RequestLog {
  readonly path: string;
  readonly range: string | undefined;
  readonly status: number;
  readonly bytes: number;
}

export interface StaticServer {
  readonly url: string;
  readonly log: RequestLog[];
  /** The next GET of `urlPath` sends only `bytes` body bytes, then drops the connection. */
  cutNext(urlPath: string, bytes: number): void;
  close(): Promise<void>;
}

export async function startStaticServer(
  root: string,
  options: { authorization?: string } = {},
): Promise<StaticServer> {
  const log: RequestLog[] = [];
  const cuts = new Map<string, number>();
  const server = createServer((req, res) => {
    void (async () => {
      const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const file = normalize(join(root, urlPath));
      const range = req.headers.range;
      const entry = { path: urlPath, range, status: 404, bytes: 0 };
      log.push(entry);
      if (options.authorization !== undefined && req.headers.authorization !== options.authorization) {
        entry.status = 401;
        res.writeHead(401).end();
        return;
      }
      if (!file.startsWith(root + sep)) {
        res.writeHead(404).end();
        return;
      }
      let size: number;
      try {
        const s = await stat(file);
        if (!s.isFile()) throw new Error('not a file');
        size = s.size;
      } catch {
        res.writeHead(404).end();
        return;
      }
      let start = 0;
      let end = size - 1;
      let status = 200;
      if (range !== undefined) {
        const m = /^bytes=(\d+)-(\d*)$/.exec(range);
        if (m === null || Number(m[1]) >= size) {
          entry.status = 416;
          res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
          return;
        }
        start = Number(m[1]);
        if (m[2] !== '') end = Math.min(end, Number(m[2]));
        status = 206;
      }
      entry.status = status;
      const headers: Record<string, string | number> = {
        'Content-Length': end - start + 1,
        'Accept-Ranges': 'bytes',
        'Content-Type': 'application/octet-stream',
      };
      if (status === 206) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
      res.writeHead(status, headers);
      if (req.method === 'HEAD' || size === 0) {
        res.end();
        return;
      }
      const cut = cuts.get(urlPath);
      if (cut !== undefined) cuts.delete(urlPath);
      const stream = createReadStream(file, {
        start,
        end: cut !== undefined ? Math.min(end, start + cut - 1) : end,
      });
      stream.on('data', (chunk: Buffer | string) => {
        entry.bytes += chunk.length;
      });
      stream.on('end', () => {
        if (cut !== undefined) {
          // Close the connection mid-body (after flushing what was sent), as a failing network would.
          res.socket?.end();
        } else {
          res.end();
        }
      });
      stream.pipe(res, { end: false });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    cutNext: (urlPath, bytes) => cuts.set(urlPath, bytes),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
