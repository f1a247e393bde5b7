import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

// A removed timeout must fail a test, not hang the suite.
const LIMIT = { timeout: 15_000 };
import { DataError, TransportError } from '../../src/errors.js';
import { createFetcher, HttpStatusError } from '../../src/client/fetcher.js';
import { freePort, startTestServer } from '../support/test-server.js';

const FILE = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(100));

async function world(): Promise<{
  server: Awaited<ReturnType<typeof startTestServer>>;
  dir: string;
  [Symbol.asyncDispose]: () => Promise<void>;
}> {
  const server = await startTestServer({ files: new Map([['/f', FILE]]) });
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-fetch-'));
  return {
    server,
    dir,
    [Symbol.asyncDispose]: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const code =
  (c: string, cls: new (...a: never[]) => Error = Error) =>
  (e: unknown) =>
    e instanceof cls && (e as { code?: string }).code === c;

test('fetchBytes returns the whole file and sends the configured headers', LIMIT, async () => {
  await using server = await startTestServer({ files: new Map([['/x', Buffer.from('ok')]]) });
  const f = createFetcher({ headers: { Authorization: 'Bearer s3cret' } });
  const bytes = await f.fetchBytes(`${server.url}/x`, 10);
  assert.equal(Buffer.from(bytes).toString(), 'ok');
  const seen = server.log[0]!.headers;
  assert.equal(seen['authorization'], 'Bearer s3cret');
  // Content-Encoding must never change the bytes we hash.
  assert.equal(seen['accept-encoding'], 'identity');
});

test('fetchBytes refuses a declared length over maxLength before reading the body', LIMIT, async () => {
  await using w = await world();
  await assert.rejects(createFetcher().fetchBytes(`${w.server.url}/f`, 100), code('TOO_LONG', DataError));
});

test('fetchBytes stops reading endless data at maxLength', LIMIT, async () => {
  await using w = await world();
  w.server.behave('/f', { kind: 'endless', limit: 32 * 1024 * 1024 });
  await assert.rejects(createFetcher().fetchBytes(`${w.server.url}/f`, 5000), code('TOO_LONG', DataError));
  // The server could have sent 32 MiB; the client hung up long before (socket buffers aside).
  assert.ok(w.server.bytesSent < 8 * 1024 * 1024, `server sent ${w.server.bytesSent} bytes`);
});

test('HTTP errors are TransportErrors with the status', LIMIT, async () => {
  await using w = await world();
  await assert.rejects(
    createFetcher().fetchBytes(`${w.server.url}/missing`, 10),
    (e: unknown) => e instanceof HttpStatusError && e.status === 404 && e instanceof TransportError,
  );
  w.server.behave('/f', { kind: 'status', status: 503 });
  await assert.rejects(
    createFetcher().fetchBytes(`${w.server.url}/f`, 1e6),
    (e: unknown) => e instanceof HttpStatusError && e.status === 503,
  );
});

test('a stalled server is stopped by the stall timeout', LIMIT, async () => {
  await using w = await world();
  w.server.behave('/f', { kind: 'stall', after: 10 });
  await assert.rejects(
    createFetcher({ stallTimeoutMs: 200 }).fetchBytes(`${w.server.url}/f`, 1e6),
    code('STALLED', TransportError),
  );
});

test(
  'a trickling server is stopped by the whole-request timeout even though bytes keep coming',
  LIMIT,
  async () => {
    await using w = await world();
    w.server.behave('/f', { kind: 'trickle', chunk: 1, intervalMs: 20 });
    await assert.rejects(
      createFetcher({ stallTimeoutMs: 4000, timeoutMs: 400 }).fetchBytes(`${w.server.url}/f`, 1e6),
      code('TIMEOUT', TransportError),
    );
  },
);

test('a connection cut half way is a transport error', LIMIT, async () => {
  await using w = await world();
  w.server.behave('/f', { kind: 'cut', after: 100 });
  await assert.rejects(createFetcher().fetchBytes(`${w.server.url}/f`, 1e6), code('NETWORK', TransportError));
});

test('an unreachable server is a transport error', LIMIT, async () => {
  const port = await freePort();
  await assert.rejects(
    createFetcher().fetchBytes(`http://127.0.0.1:${port}/x`, 10),
    code('NETWORK', TransportError),
  );
});

test('the caller can abort a request', LIMIT, async () => {
  await using w = await world();
  w.server.behave('/f', { kind: 'stall', after: 10 });
  const ac = new AbortController();
  const p = createFetcher().fetchBytes(`${w.server.url}/f`, 1e6, { signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(p, code('ABORTED', TransportError));
});

test('downloadTo writes the file and reports progress', LIMIT, async () => {
  await using w = await world();
  const p = join(w.dir, 'f.partial');
  let n = 0;
  await createFetcher().downloadTo(`${w.server.url}/f`, p, {
    offset: 0,
    maxLength: FILE.length,
    onBytes: (b) => (n += b),
  });
  assert.deepEqual(await readFile(p), FILE);
  assert.equal(n, FILE.length);
});

test('downloadTo resumes with Range from the offset', LIMIT, async () => {
  await using w = await world();
  const p = join(w.dir, 'f.partial');
  await writeFile(p, FILE.subarray(0, 1000));
  await createFetcher().downloadTo(`${w.server.url}/f`, p, { offset: 1000, maxLength: FILE.length });
  assert.deepEqual(await readFile(p), FILE);
  assert.deepEqual(w.server.requests, ['/f [bytes=1000-]']);
});

test('downloadTo drops bytes past the offset before resuming', LIMIT, async () => {
  await using w = await world();
  const p = join(w.dir, 'f.partial');
  await writeFile(p, Buffer.concat([FILE.subarray(0, 1000), Buffer.from('garbage')]));
  await createFetcher().downloadTo(`${w.server.url}/f`, p, { offset: 1000, maxLength: FILE.length });
  assert.deepEqual(await readFile(p), FILE);
});

test(
  'downloadTo restarts from 0 when the server ignores Range (200), truncating the partial file',
  LIMIT,
  async () => {
    await using w = await world();
    const p = join(w.dir, 'f.partial');
    await writeFile(p, Buffer.alloc(1000, 0x58));
    w.server.behave('/f', { kind: 'ignore-range' });
    let sum = 1000;
    await createFetcher().downloadTo(`${w.server.url}/f`, p, {
      offset: 1000,
      maxLength: FILE.length,
      onBytes: (n) => (sum += n),
    });
    assert.deepEqual(await readFile(p), FILE);
    // Progress went back to 0 first, so the running sum is the file's size.
    assert.equal(sum, FILE.length);
  },
);

test('downloadTo refuses a 206 answer that starts elsewhere', LIMIT, async () => {
  await using w = await world();
  const p = join(w.dir, 'f.partial');
  await writeFile(p, FILE.subarray(0, 1000));
  w.server.behave('/f', { kind: 'wrong-range' });
  await assert.rejects(
    createFetcher().downloadTo(`${w.server.url}/f`, p, { offset: 1000, maxLength: FILE.length }),
    code('BAD_RANGE', TransportError),
  );
  assert.deepEqual(await readFile(p), FILE.subarray(0, 1000));
});

test('downloadTo with an offset beyond the partial file starts over', LIMIT, async () => {
  await using w = await world();
  const p = join(w.dir, 'f.partial');
  await writeFile(p, FILE.subarray(0, 10));
  await createFetcher().downloadTo(`${w.server.url}/f`, p, { offset: 1000, maxLength: FILE.length });
  assert.deepEqual(await readFile(p), FILE);
  assert.deepEqual(w.server.requests, ['/f']);
});

test('downloadTo stops endless data at maxLength, keeping only maxLength bytes', LIMIT, async () => {
  await using w = await world();
  w.server.behave('/f', { kind: 'endless', limit: 32 * 1024 * 1024 });
  const p = join(w.dir, 'f.partial');
  await assert.rejects(
    createFetcher().downloadTo(`${w.server.url}/f`, p, { offset: 0, maxLength: FILE.length }),
    code('TOO_LONG', DataError),
  );
  assert.deepEqual(await readFile(p), FILE);
  assert.ok(w.server.bytesSent < 8 * 1024 * 1024, `server sent ${w.server.bytesSent} bytes`);
});

test('downloadTo: a stall keeps what arrived, and the next call resumes from there', LIMIT, async () => {
  await using w = await world();
  w.server.behave('/f', { kind: 'stall', after: 700 }, 1);
  const p = join(w.dir, 'f.partial');
  // A short stall timeout only for the call that meets the stall (the server stays silent for 8 s).
  await assert.rejects(
    createFetcher({ stallTimeoutMs: 500 }).downloadTo(`${w.server.url}/f`, p, {
      offset: 0,
      maxLength: FILE.length,
    }),
    code('STALLED', TransportError),
  );
  const got = (await readFile(p)).length;
  assert.ok(got > 0 && got <= 700, `kept ${got} bytes`);
  // The resume is an honest transfer: the default timeouts, which a loaded machine does not trip.
  await createFetcher().downloadTo(`${w.server.url}/f`, p, { offset: got, maxLength: FILE.length });
  assert.deepEqual(await readFile(p), FILE);
});

test(
  'a server that trickles just fast enough to dodge the stall timeout is stopped by the rate floor',
  LIMIT,
  async () => {
    await using w = await world();
    w.server.behave('/f', { kind: 'trickle', chunk: 1, intervalMs: 10 });
    const f = createFetcher({ stallTimeoutMs: 5000, minBytesPerSecond: 1000, rateWindowMs: 300 });
    await assert.rejects(
      f.downloadTo(`${w.server.url}/f`, join(w.dir, 'p'), { offset: 0, maxLength: 1e6 }),
      code('TOO_SLOW', TransportError),
    );
    await assert.rejects(f.fetchBytes(`${w.server.url}/f`, 1e6), code('TOO_SLOW', TransportError));
  },
);

test('an honest download at full speed passes the rate floor', LIMIT, async () => {
  await using w = await world();
  const f = createFetcher({ minBytesPerSecond: 1, rateWindowMs: 1000 });
  const p = join(w.dir, 'p');
  await f.downloadTo(`${w.server.url}/f`, p, { offset: 0, maxLength: FILE.length });
  assert.deepEqual(await readFile(p), FILE);
});

test(
  'downloadTo with the offset at maxLength trims anything past it and makes no request',
  LIMIT,
  async () => {
    await using w = await world();
    const p = join(w.dir, 'f.partial');
    await writeFile(p, Buffer.concat([FILE, Buffer.from('extra')]));
    await createFetcher().downloadTo(`${w.server.url}/f`, p, { offset: FILE.length, maxLength: FILE.length });
    assert.deepEqual(await readFile(p), FILE);
    assert.deepEqual(w.server.requests, []);
  },
);

test(
  "the configured headers (a private repository's token) are not sent to another origin a redirect points to; same-origin redirects and resume keep working",
  LIMIT,
  async () => {
    await using other = await startTestServer({ files: new Map([['/f', FILE]]) });
    await using own = await startTestServer({ files: new Map([['/f', FILE]]) });
    own.behave('/moved', { kind: 'redirect', location: '/f' });
    // "localhost" is another origin than 127.0.0.1 (a CDN, a mirror, or a hostile server).
    own.behave('/away', { kind: 'redirect', location: `http://localhost:${other.port}/f` });
    const seenByOther = (): IncomingHttpHeaders[] => other.log.map((r) => r.headers);
    const base = own.url;
    const dir = await mkdtemp(join(tmpdir(), 'notsotuf-fetch-'));
    try {
      const fetcher = createFetcher({
        headers: { 'Private-Token': 'secret', Authorization: 'Bearer secret' },
      });
      assert.deepEqual(Buffer.from(await fetcher.fetchBytes(`${base}/moved`, FILE.length)), FILE);
      assert.equal(own.log.at(-1)?.headers['private-token'], 'secret', 'same origin: the token goes along');
      assert.deepEqual(Buffer.from(await fetcher.fetchBytes(`${base}/away`, FILE.length)), FILE);
      const partial = join(dir, 'f.partial');
      await writeFile(partial, FILE.subarray(0, 100));
      await fetcher.downloadTo(`${base}/away`, partial, { offset: 100, maxLength: FILE.length });
      assert.deepEqual(await readFile(partial), FILE);
      assert.equal(seenByOther().length, 2);
      for (const headers of seenByOther()) {
        assert.equal(headers['private-token'], undefined, 'the token never reaches the other origin');
        assert.equal(headers['authorization'], undefined);
      }
      assert.equal(seenByOther()[1]?.['range'], 'bytes=100-', 'the resume still asks for the rest');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
