/**
 * The fetcher's edges against the real scriptable test server (test/support/test-server.ts): which
 * arguments it refuses, the resume offset and the 416 retry (exact bytes on disk afterwards), the
 * Content-Range it accepts, the headers it sends, redirects (count and scheme), and its three
 * timers. Written from the survivors of the mutation run of src/client/fetcher.ts
 * (docs/security.md). Timing tests use windows far apart from what the server does (a server that
 * stalls for seconds against a window of a fraction of that, or an honest trickle whose gaps are a
 * few percent of the window) and assert on error codes and bytes, never on wall time.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { readdir, readFile, readlink, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DataError, TransportError } from '../../src/errors.js';
import { createFetcher, HttpStatusError } from '../../src/client/fetcher.js';
import { freePort, startTestServer, type TestServer } from '../support/test-server.js';
import { withTempDir } from '../support/temp-dir.js';

// A removed timeout must fail a test, not hang the suite.
const LIMIT = { timeout: 30_000 };

const FILE = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(100));

async function withWorld(fn: (server: TestServer, dir: string) => Promise<void>): Promise<void> {
  await using server = await startTestServer({
    files: new Map([
      ['/f', FILE],
      ['/empty', new Uint8Array(0)],
    ]),
  });
  await withTempDir((dir) => fn(server, dir), 'notsotuf-fetch-edges-');
}

/** An error of class `cls` with code `c`, whose message matches `message` when given. */
const code =
  (c: string, cls: new (...a: never[]) => Error, message?: RegExp) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.equal((e as { code?: string }).code, c, String(e));
    if (message !== undefined) assert.match(e.message, message);
    return true;
  };

const httpStatus =
  (status: number, url: string) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof HttpStatusError, String(e));
    assert.ok(e instanceof TransportError);
    assert.equal(e.name, 'HttpStatusError');
    assert.equal(e.code, 'HTTP_ERROR');
    assert.equal(e.status, status);
    assert.equal(e.url, url);
    assert.match(e.message, new RegExp(`answered HTTP ${status} for ${url.replaceAll('.', '\\.')}\\. `));
    assert.match(e.message, /Check the repository URL and that the server is up, then retry\.$/);
    return true;
  };

describe('arguments', () => {
  test(
    'fetchBytes and downloadTo refuse a maxLength that is not a non-negative integer, before any request',
    LIMIT,
    async () => {
      await withWorld(async (server, dir) => {
        const f = createFetcher();
        for (const maxLength of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
          const refused = (e: unknown): boolean =>
            e instanceof RangeError && e.message === `maxLength ${maxLength} must be a non-negative integer`;
          await assert.rejects(
            f.fetchBytes(`${server.url}/f`, maxLength),
            refused,
            `fetchBytes ${maxLength}`,
          );
          await assert.rejects(
            f.downloadTo(`${server.url}/f`, join(dir, 'p'), { offset: 0, maxLength }),
            refused,
            `downloadTo ${maxLength}`,
          );
        }
        assert.deepEqual(server.requests, []);
      });
    },
  );

  test('downloadTo refuses an offset that is negative, not an integer or past maxLength', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      const p = join(dir, 'p');
      await writeFile(p, FILE);
      for (const offset of [-1, 0.5, Number.NaN, 2 ** 53, FILE.length + 1]) {
        await assert.rejects(
          createFetcher().downloadTo(`${server.url}/f`, p, { offset, maxLength: FILE.length }),
          (e: unknown) => e instanceof RangeError && /must be an integer in \[0, maxLength\]/.test(e.message),
          `offset ${offset}`,
        );
      }
      assert.deepEqual(server.requests, []);
      assert.deepEqual(await readFile(p), FILE, 'the partial file is untouched');
    });
  });

  test('a maxLength of 0 fetches an empty file (0 is a length, not "no limit")', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      const f = createFetcher();
      assert.equal((await f.fetchBytes(`${server.url}/empty`, 0)).length, 0);
      const p = join(dir, 'empty.partial');
      await f.downloadTo(`${server.url}/empty`, p, { offset: 0, maxLength: 0 });
      assert.equal((await readFile(p)).length, 0, 'the file exists and is empty');
      assert.deepEqual(server.requests, ['/empty', '/empty']);
      await assert.rejects(f.fetchBytes(`${server.url}/f`, 0), code('TOO_LONG', DataError));
    });
  });
});

describe('lengths', () => {
  test(
    'exactly maxLength bytes without a Content-Length are accepted, one more is refused',
    LIMIT,
    async () => {
      await withWorld(async (server, dir) => {
        const f = createFetcher();
        server.behave('/f', { kind: 'endless', limit: FILE.length });
        assert.deepEqual(Buffer.from(await f.fetchBytes(`${server.url}/f`, FILE.length)), FILE);
        const p = join(dir, 'p');
        await f.downloadTo(`${server.url}/f`, p, { offset: 0, maxLength: FILE.length });
        assert.deepEqual(await readFile(p), FILE);
        await assert.rejects(
          f.fetchBytes(`${server.url}/f`, FILE.length - 1),
          code(
            'TOO_LONG',
            DataError,
            new RegExp(
              `more than the expected ${FILE.length - 1} bytes for http://\\S+/f\\. The file was refused; ` +
                'the server or a mirror may be hostile or misconfigured\\.$',
            ),
          ),
        );
      });
    },
  );

  test(
    'a resume whose declared rest is over what maxLength leaves is refused before any byte is written',
    LIMIT,
    async () => {
      await withWorld(async (server, dir) => {
        const p = join(dir, 'p');
        await writeFile(p, FILE.subarray(0, 1000));
        // The server declares 2600 more bytes; only 2000 fit under maxLength 3000.
        await assert.rejects(
          createFetcher().downloadTo(`${server.url}/f`, p, { offset: 1000, maxLength: 3000 }),
          code('TOO_LONG', DataError, /more than the expected 2000 bytes/),
        );
        assert.deepEqual(await readFile(p), FILE.subarray(0, 1000));
        assert.deepEqual(server.requests, ['/f [bytes=1000-]']);
        // The rest fits exactly: accepted.
        await createFetcher().downloadTo(`${server.url}/f`, p, { offset: 1000, maxLength: FILE.length });
        assert.deepEqual(await readFile(p), FILE);
      });
    },
  );

  test('onBytes reports only bytes written: no zero, no restart on a fresh download', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      const seen: number[] = [];
      const p = join(dir, 'p');
      await createFetcher().downloadTo(`${server.url}/f`, p, {
        offset: 0,
        maxLength: FILE.length,
        onBytes: (n) => seen.push(n),
      });
      assert.ok(seen.length > 0);
      assert.ok(
        seen.every((n) => n > 0),
        `reports: ${seen.map((n) => (Object.is(n, -0) ? '-0' : String(n))).join(' ')}`,
      );
      assert.equal(
        seen.reduce((a, b) => a + b, 0),
        FILE.length,
      );
    });
  });
});

/** The network's own error is kept as the cause (for logs and support). */
const hasCause = (e: unknown): boolean => {
  assert.ok(e instanceof TransportError && e.code === 'NETWORK', String(e));
  assert.ok(e.cause instanceof Error, `cause: ${String(e.cause)}`);
  return true;
};

/** Whether this process holds a file descriptor open on `path` (Linux: /proc/self/fd). */
async function holdsOpen(path: string): Promise<boolean> {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  // The links name the real path (the temp folder may sit behind a symlink).
  return targets.includes(await realpath(path));
}

describe('failures', () => {
  test('204 (no body at all) is an HTTP error for both calls, and no file is created', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      const url = `${server.url}/f`;
      server.behave('/f', { kind: 'status', status: 204 });
      await assert.rejects(createFetcher().fetchBytes(url, FILE.length), httpStatus(204, url));
      await assert.rejects(
        createFetcher().downloadTo(url, join(dir, 'p'), { offset: 0, maxLength: FILE.length }),
        httpStatus(204, url),
      );
      await assert.rejects(readFile(join(dir, 'p')), { code: 'ENOENT' });
    });
  });

  test(
    'an unreachable server and a cut connection say what happened and what to do (NETWORK)',
    LIMIT,
    async () => {
      const port = await freePort();
      await assert.rejects(
        createFetcher().fetchBytes(`http://127.0.0.1:${port}/x`, 10),
        code(
          'NETWORK',
          TransportError,
          new RegExp(
            `^Could not reach the update server at http://127\\.0\\.0\\.1:${port}/x: .+\\. Check the URL and the network, then retry\\.$`,
          ),
        ),
      );
      await assert.rejects(createFetcher().fetchBytes(`http://127.0.0.1:${port}/x`, 10), hasCause);
      await withWorld(async (server, dir) => {
        server.behave('/f', { kind: 'cut', after: 100 });
        const p = join(dir, 'p');
        await assert.rejects(
          createFetcher().downloadTo(`${server.url}/f`, p, { offset: 0, maxLength: FILE.length }),
          code(
            'NETWORK',
            TransportError,
            /^The connection to the update server broke while downloading http:\S+\/f: .+\. Retry\.$/,
          ),
        );
        assert.deepEqual(await readFile(p), FILE.subarray(0, 100), 'what arrived is kept');
        server.behave('/f', { kind: 'cut', after: 100 });
        await assert.rejects(createFetcher().fetchBytes(`${server.url}/f`, FILE.length), hasCause);
      });
    },
  );

  test('endless data: the file keeps maxLength bytes, progress never reports 0 bytes', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      server.behave('/f', { kind: 'endless', limit: 1024 * 1024 });
      const p = join(dir, 'p');
      const seen: number[] = [];
      await assert.rejects(
        createFetcher().downloadTo(`${server.url}/f`, p, {
          offset: 0,
          maxLength: FILE.length,
          onBytes: (n) => seen.push(n),
        }),
        code('TOO_LONG', DataError),
      );
      assert.deepEqual(await readFile(p), FILE);
      assert.ok(
        seen.every((n) => n > 0),
        seen.join(' '),
      );
    });
  });
});

describe('resume offset', () => {
  test('an offset with no partial file starts over from byte 0 (no Range)', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      const p = join(dir, 'missing.partial');
      let sum = 1000;
      await createFetcher().downloadTo(`${server.url}/f`, p, {
        offset: 1000,
        maxLength: FILE.length,
        onBytes: (n) => (sum += n),
      });
      assert.deepEqual(await readFile(p), FILE);
      assert.deepEqual(server.requests, ['/f']);
      assert.equal(sum, FILE.length, 'the restart is reported as -offset');
    });
  });

  test(
    'an offset of 1 with no partial file starts over too (a missing file is no prefix)',
    LIMIT,
    async () => {
      await withWorld(async (server, dir) => {
        const p = join(dir, 'missing.partial');
        await createFetcher().downloadTo(`${server.url}/f`, p, { offset: 1, maxLength: FILE.length });
        assert.deepEqual(await readFile(p), FILE);
        assert.deepEqual(server.requests, ['/f']);
      });
    },
  );

  test('a resume answered 206 reports only the new bytes', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      const p = join(dir, 'p');
      await writeFile(p, FILE.subarray(0, 1000));
      const seen: number[] = [];
      await createFetcher().downloadTo(`${server.url}/f`, p, {
        offset: 1000,
        maxLength: FILE.length,
        onBytes: (n) => seen.push(n),
      });
      assert.deepEqual(await readFile(p), FILE);
      assert.ok(
        seen.every((n) => n > 0),
        seen.join(' '),
      );
      assert.equal(
        seen.reduce((a, b) => a + b, 0),
        FILE.length - 1000,
      );
    });
  });

  test('a resume drops what the partial file held past its offset: exact bytes on disk', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      const p = join(dir, 'p');
      // The right first 1000 bytes, then more than the whole file: only [0, 1000) is kept.
      await writeFile(p, Buffer.concat([FILE.subarray(0, 1000), Buffer.alloc(FILE.length, 0x21)]));
      await createFetcher().downloadTo(`${server.url}/f`, p, { offset: 1000, maxLength: FILE.length });
      assert.deepEqual(await readFile(p), FILE);
      assert.deepEqual(
        server.log.map((r) => [r.status, r.range]),
        [[206, 'bytes=1000-']],
      );
    });
  });

  test('an offset at maxLength with a shorter partial file downloads again', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      const p = join(dir, 'p');
      await writeFile(p, FILE.subarray(0, 10));
      await createFetcher().downloadTo(`${server.url}/f`, p, { offset: FILE.length, maxLength: FILE.length });
      assert.deepEqual(await readFile(p), FILE);
      assert.deepEqual(server.requests, ['/f']);
    });
  });

  test(
    '416 (the file on the server shrank): one restart from 0, exact new bytes on disk',
    LIMIT,
    async () => {
      await withWorld(async (server, dir) => {
        const shorter = FILE.subarray(0, 500);
        server.files.set('/f', shorter);
        const p = join(dir, 'p');
        await writeFile(p, Buffer.alloc(1000, 0x58));
        let sum = 1000;
        await createFetcher().downloadTo(`${server.url}/f`, p, {
          offset: 1000,
          maxLength: FILE.length,
          onBytes: (n) => (sum += n),
        });
        assert.deepEqual(await readFile(p), shorter);
        assert.deepEqual(server.requests, ['/f [bytes=1000-]', '/f']);
        assert.deepEqual(
          server.log.map((r) => r.status),
          [416, 200],
        );
        assert.equal(sum, shorter.length, 'the running sum is the size on disk');
      });
    },
  );

  test(
    '416 again after the restart from 0 is an error (no loop), the partial file unchanged',
    LIMIT,
    async () => {
      await withWorld(async (server, dir) => {
        server.behave('/f', { kind: 'status', status: 416 });
        const p = join(dir, 'p');
        await writeFile(p, FILE.subarray(0, 1000));
        const url = `${server.url}/f`;
        await assert.rejects(
          createFetcher().downloadTo(url, p, { offset: 1000, maxLength: FILE.length }),
          httpStatus(416, url),
        );
        assert.deepEqual(server.requests, ['/f [bytes=1000-]', '/f']);
        assert.deepEqual(await readFile(p), FILE.subarray(0, 1000));
        // From 0, a 416 is not retried at all.
        server.log.length = 0;
        await assert.rejects(
          createFetcher().downloadTo(url, p, { offset: 0, maxLength: FILE.length }),
          httpStatus(416, url),
        );
        assert.deepEqual(server.requests, ['/f']);
      });
    },
  );

  test(
    'an HTTP error other than 416 on a resume is not retried and leaves the partial file as it was',
    LIMIT,
    async () => {
      await withWorld(async (server, dir) => {
        const url = `${server.url}/f`;
        const p = join(dir, 'p');
        await writeFile(p, FILE.subarray(0, 1000));
        for (const status of [404, 500, 503]) {
          server.log.length = 0;
          server.behave('/f', { kind: 'status', status }, 1);
          await assert.rejects(
            createFetcher().downloadTo(url, p, { offset: 1000, maxLength: FILE.length }),
            httpStatus(status, url),
          );
          assert.deepEqual(server.requests, ['/f [bytes=1000-]'], `HTTP ${status}`);
          assert.deepEqual(await readFile(p), FILE.subarray(0, 1000), `HTTP ${status}`);
        }
        // A fresh download that meets an error creates no file.
        server.behave('/f', { kind: 'status', status: 500 }, 1);
        await assert.rejects(
          createFetcher().downloadTo(url, join(dir, 'fresh'), { offset: 0, maxLength: FILE.length }),
          httpStatus(500, url),
        );
        await assert.rejects(readFile(join(dir, 'fresh')), { code: 'ENOENT' });
      });
    },
  );
});

describe('Content-Range of a resume', () => {
  const cases: { value: string | null; why: string; message: RegExp }[] = [
    {
      value: null,
      why: 'missing',
      message:
        /resume request for http:\S+\/f without a valid Content-Range \(null\)\. Delete the partial download and retry\.$/,
    },
    { value: 'xbytes 1000-3599/3600', why: 'junk before', message: /without a valid Content-Range/ },
    { value: 'bytes 1000-3599/3600x', why: 'junk after', message: /without a valid Content-Range/ },
    { value: 'bytes 1000-/3600', why: 'no end', message: /without a valid Content-Range/ },
    { value: 'bytes */3600', why: 'unsatisfied form', message: /without a valid Content-Range/ },
    {
      value: 'bytes 999-3599/3600',
      why: 'another start',
      message: /for http:\S+\/f from byte 999 instead of 1000\. Delete the partial download and retry\.$/,
    },
    { value: 'bytes 0-3599/3600', why: 'from 0', message: /from byte 0 instead of 1000\./ },
  ];
  for (const c of cases) {
    test(`refused (BAD_RANGE), nothing written: ${c.why} (${String(c.value)})`, LIMIT, async () => {
      await withWorld(async (server, dir) => {
        server.behave('/f', { kind: 'content-range', value: c.value });
        const p = join(dir, 'p');
        await writeFile(p, FILE.subarray(0, 1000));
        await assert.rejects(
          createFetcher().downloadTo(`${server.url}/f`, p, { offset: 1000, maxLength: FILE.length }),
          code('BAD_RANGE', TransportError, c.message),
        );
        assert.deepEqual(await readFile(p), FILE.subarray(0, 1000));
        assert.equal(server.log.length, 1, 'not retried');
      });
    });
  }

  test('206 to a request without Range is an HTTP error, whatever its Content-Range', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      const url = `${server.url}/f`;
      for (const value of ['bytes 0-3599/3600', 'bytes 5-3599/3600']) {
        server.behave('/f', { kind: 'content-range', value }, 1);
        await assert.rejects(
          createFetcher().downloadTo(url, join(dir, 'p'), { offset: 0, maxLength: FILE.length }),
          httpStatus(206, url),
        );
      }
      await assert.rejects(readFile(join(dir, 'p')), { code: 'ENOENT' });
    });
  });

  test('trailing whitespace after the Content-Range (HTTP allows it) is accepted', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      server.behave('/f', { kind: 'content-range', value: 'bytes 1000-3599/3600 ' });
      const p = join(dir, 'p');
      await writeFile(p, FILE.subarray(0, 1000));
      await createFetcher().downloadTo(`${server.url}/f`, p, { offset: 1000, maxLength: FILE.length });
      assert.deepEqual(await readFile(p), FILE);
    });
  });

  test('an unknown total (`bytes 1000-3599/*`) is accepted', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      server.behave('/f', { kind: 'content-range', value: 'bytes 1000-3599/*' });
      const p = join(dir, 'p');
      await writeFile(p, FILE.subarray(0, 1000));
      await createFetcher().downloadTo(`${server.url}/f`, p, { offset: 1000, maxLength: FILE.length });
      assert.deepEqual(await readFile(p), FILE);
    });
  });
});

describe('headers', () => {
  test(
    'downloadTo sends the configured headers and identity encoding; Range only when resuming',
    LIMIT,
    async () => {
      await withWorld(async (server, dir) => {
        const f = createFetcher({ headers: { 'Private-Token': 't0k' } });
        const p = join(dir, 'p');
        await f.downloadTo(`${server.url}/f`, p, { offset: 0, maxLength: FILE.length });
        await writeFile(p, FILE.subarray(0, 7));
        await f.downloadTo(`${server.url}/f`, p, { offset: 7, maxLength: FILE.length });
        assert.deepEqual(await readFile(p), FILE);
        assert.deepEqual(server.requests, ['/f', '/f [bytes=7-]']);
        for (const r of server.log) {
          assert.equal(r.headers['private-token'], 't0k');
          // fetch itself appends a second `identity` to a request with Range (the Fetch standard).
          assert.match(r.headers['accept-encoding'] ?? '', /^identity(, identity)?$/);
        }
        await f.fetchBytes(`${server.url}/f`, FILE.length);
        assert.equal(server.log[2]!.range, undefined, 'fetchBytes sends no Range');
      });
    },
  );

  test('the configured headers object is copied: changing it later changes no request', LIMIT, async () => {
    await withWorld(async (server) => {
      const headers: Record<string, string> = { 'Private-Token': 'first' };
      const f = createFetcher({ headers });
      headers['Private-Token'] = 'second';
      await f.fetchBytes(`${server.url}/f`, FILE.length);
      assert.equal(server.log[0]!.headers['private-token'], 'first');
    });
  });
});

describe('redirects', () => {
  for (const status of [301, 302, 303, 307, 308]) {
    test(`${status} is followed (to the same origin, headers kept)`, LIMIT, async () => {
      await withWorld(async (server, dir) => {
        server.behave('/old', { kind: 'redirect', location: '/f', status });
        const f = createFetcher({ headers: { 'Private-Token': 't0k' } });
        assert.deepEqual(Buffer.from(await f.fetchBytes(`${server.url}/old`, FILE.length)), FILE);
        const p = join(dir, 'p');
        await writeFile(p, FILE.subarray(0, 100));
        await f.downloadTo(`${server.url}/old`, p, { offset: 100, maxLength: FILE.length });
        assert.deepEqual(await readFile(p), FILE);
        assert.deepEqual(server.requests, ['/old', '/f', '/old [bytes=100-]', '/f [bytes=100-]']);
        assert.equal(server.log[3]!.headers['private-token'], 't0k');
      });
    });
  }

  test('a 3xx that is not a redirect, or a redirect without Location, is an HTTP error', LIMIT, async () => {
    await withWorld(async (server) => {
      const url = `${server.url}/f`;
      server.behave('/f', { kind: 'redirect', location: '/empty', status: 300 }, 1);
      await assert.rejects(createFetcher().fetchBytes(url, FILE.length), httpStatus(300, url));
      server.behave('/f', { kind: 'status', status: 302 }, 1);
      await assert.rejects(createFetcher().fetchBytes(url, FILE.length), httpStatus(302, url));
      assert.deepEqual(server.requests, ['/f', '/f']);
    });
  });

  test('a relative Location is resolved against the URL that redirected', LIMIT, async () => {
    await withWorld(async (server) => {
      server.behave('/a/b', { kind: 'redirect', location: 'c' });
      server.behave('/a/c', { kind: 'redirect', location: '../f' });
      assert.deepEqual(Buffer.from(await createFetcher().fetchBytes(`${server.url}/a/b`, FILE.length)), FILE);
      assert.deepEqual(server.requests, ['/a/b', '/a/c', '/f']);
    });
  });

  test('20 redirects are followed, the 21st is refused (BAD_REDIRECT)', LIMIT, async () => {
    await withWorld(async (server) => {
      server.behave('/f', { kind: 'redirect', location: '/f' }, 20);
      assert.deepEqual(Buffer.from(await createFetcher().fetchBytes(`${server.url}/f`, FILE.length)), FILE);
      assert.equal(server.log.length, 21);
      server.log.length = 0;
      server.behave('/f', { kind: 'redirect', location: '/f' }, 21);
      await assert.rejects(
        createFetcher().fetchBytes(`${server.url}/f`, FILE.length),
        code(
          'BAD_REDIRECT',
          TransportError,
          /redirected http:\S+\/f too many times or to an address that is not http\(s\)\. Check the repository URL\.$/,
        ),
      );
      assert.equal(server.log.length, 21, 'the 21st redirect is not followed');
    });
  });

  test(
    'a redirect to anything but http(s), or to no valid URL, is refused (BAD_REDIRECT)',
    LIMIT,
    async () => {
      await withWorld(async (server, dir) => {
        for (const location of ['file:///etc/passwd', 'ftp://127.0.0.1/f', 'data:,hello', 'http://[::1']) {
          server.behave('/f', { kind: 'redirect', location }, 1);
          await assert.rejects(
            createFetcher().fetchBytes(`${server.url}/f`, FILE.length),
            code('BAD_REDIRECT', TransportError),
            location,
          );
        }
        server.behave('/f', { kind: 'redirect', location: 'file:///etc/passwd' }, 1);
        await assert.rejects(
          createFetcher().downloadTo(`${server.url}/f`, join(dir, 'p'), {
            offset: 0,
            maxLength: FILE.length,
          }),
          code('BAD_REDIRECT', TransportError),
        );
        await assert.rejects(readFile(join(dir, 'p')), { code: 'ENOENT' });
      });
    },
  );

  test(
    'a redirect to https is followed (here it meets a plain-http server: NETWORK, not BAD_REDIRECT)',
    LIMIT,
    async () => {
      await withWorld(async (server) => {
        server.behave('/f', { kind: 'redirect', location: `https://127.0.0.1:${server.port}/f` }, 1);
        await assert.rejects(
          createFetcher().fetchBytes(`${server.url}/f`, FILE.length),
          code('NETWORK', TransportError),
        );
      });
    },
  );
});

describe('pieces and resources', () => {
  test('fetchBytes puts a body of many chunks together in order', LIMIT, async () => {
    await withWorld(async (server) => {
      const big = Buffer.from(Array.from({ length: 1024 * 1024 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));
      server.files.set('/big', big);
      assert.deepEqual(Buffer.from(await createFetcher().fetchBytes(`${server.url}/big`, big.length)), big);
    });
  });

  test(
    'maxLength 0 against a server that sends bytes: TOO_LONG, an empty file, no progress at all',
    LIMIT,
    async () => {
      await withWorld(async (server, dir) => {
        server.behave('/f', { kind: 'endless', limit: 64 * 1024 });
        const p = join(dir, 'p');
        const seen: number[] = [];
        await assert.rejects(
          createFetcher().downloadTo(`${server.url}/f`, p, {
            offset: 0,
            maxLength: 0,
            onBytes: (n) => seen.push(n),
          }),
          code('TOO_LONG', DataError),
        );
        assert.equal((await readFile(p)).length, 0);
        assert.deepEqual(seen, []);
      });
    },
  );

  test(
    'downloadTo closes the partial file, after success and after a failure',
    { ...LIMIT, skip: process.platform !== 'linux' && 'reads /proc/self/fd' },
    async () => {
      await withWorld(async (server, dir) => {
        const p = join(dir, 'p');
        await createFetcher().downloadTo(`${server.url}/f`, p, { offset: 0, maxLength: FILE.length });
        assert.equal(await holdsOpen(p), false, 'after success');
        server.behave('/f', { kind: 'endless' });
        await assert.rejects(
          createFetcher().downloadTo(`${server.url}/f`, p, { offset: 0, maxLength: FILE.length }),
          code('TOO_LONG', DataError),
        );
        assert.equal(await holdsOpen(p), false, 'after TOO_LONG');
      });
    },
  );

  test('no timer is left running once a request ends (a CLI would wait for it to exit)', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const before = timers();
      // The defaults: a stall timeout, a rate floor per window; a whole-request timeout too.
      const f = createFetcher({ timeoutMs: 60_000 });
      await f.fetchBytes(`${server.url}/f`, FILE.length);
      await f.downloadTo(`${server.url}/f`, join(dir, 'p'), { offset: 0, maxLength: FILE.length });
      server.behave('/f', { kind: 'status', status: 500 }, 1);
      await assert.rejects(f.fetchBytes(`${server.url}/f`, FILE.length), HttpStatusError);
      assert.equal(timers(), before);
    });
  });

  test("a caller's signal used for many requests keeps no listener from them", LIMIT, async () => {
    await withWorld(async (server, dir) => {
      const signal = new AbortController().signal;
      const f = createFetcher();
      await f.fetchBytes(`${server.url}/f`, FILE.length, { signal });
      await f.downloadTo(`${server.url}/f`, join(dir, 'p'), { offset: 0, maxLength: FILE.length, signal });
      server.behave('/f', { kind: 'status', status: 500 }, 1);
      await assert.rejects(f.fetchBytes(`${server.url}/f`, FILE.length, { signal }), HttpStatusError);
      assert.equal(getEventListeners(signal, 'abort').length, 0);
    });
  });
});

describe('cancelling', () => {
  test(
    'a signal already aborted stops before any request; the cause is the caller reason',
    LIMIT,
    async () => {
      await withWorld(async (server, dir) => {
        const reason = new Error('user closed the app');
        const signal = AbortSignal.abort(reason);
        const isAborted = (e: unknown): boolean => {
          code('ABORTED', TransportError, /The download of http:\S+\/f was cancelled\./)(e);
          assert.equal((e as Error).cause, reason);
          return true;
        };
        await assert.rejects(
          createFetcher().fetchBytes(`${server.url}/f`, FILE.length, { signal }),
          isAborted,
        );
        await assert.rejects(
          createFetcher().downloadTo(`${server.url}/f`, join(dir, 'p'), {
            offset: 0,
            maxLength: FILE.length,
            signal,
          }),
          isAborted,
        );
        assert.deepEqual(server.requests, []);
      });
    },
  );

  test('aborting a download keeps the bytes already written', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      server.behave('/f', { kind: 'stall', after: 600 });
      const ac = new AbortController();
      const p = join(dir, 'p');
      const written: number[] = [];
      const done = createFetcher().downloadTo(`${server.url}/f`, p, {
        offset: 0,
        maxLength: FILE.length,
        signal: ac.signal,
        onBytes: (n) => {
          written.push(n);
          // Abort once all 600 bytes before the stall are on disk.
          if (written.reduce((a, b) => a + b, 0) === 600) ac.abort();
        },
      });
      await assert.rejects(done, code('ABORTED', TransportError));
      assert.deepEqual(await readFile(p), FILE.subarray(0, 600));
    });
  });
});

// The timing tests run side by side (each mostly waits), so the file takes as long as the longest.
describe('timers', { concurrency: true }, () => {
  test('0 turns the whole-request and stall timeouts and the rate floor off', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      const f = createFetcher({ timeoutMs: 0, stallTimeoutMs: 0, minBytesPerSecond: 0, rateWindowMs: 0 });
      assert.deepEqual(Buffer.from(await f.fetchBytes(`${server.url}/f`, FILE.length)), FILE);
      const p = join(dir, 'p');
      await f.downloadTo(`${server.url}/f`, p, { offset: 0, maxLength: FILE.length });
      assert.deepEqual(await readFile(p), FILE);
      const noWindow = createFetcher({ minBytesPerSecond: 1e9, rateWindowMs: 0 });
      assert.deepEqual(Buffer.from(await noWindow.fetchBytes(`${server.url}/f`, FILE.length)), FILE);
    });
  });

  test('a server that answers nothing at all is stopped by the stall timeout (STALLED)', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      server.behave('/f', { kind: 'delay', ms: 8000 });
      const f = createFetcher({ stallTimeoutMs: 300 });
      await assert.rejects(
        f.fetchBytes(`${server.url}/f`, FILE.length),
        code(
          'STALLED',
          TransportError,
          /sent no data for 300 ms while downloading http:\S+\/f\. Check the network and retry; the download resumes where it stopped\.$/,
        ),
      );
      await assert.rejects(
        f.downloadTo(`${server.url}/f`, join(dir, 'p'), { offset: 0, maxLength: FILE.length }),
        code('STALLED', TransportError),
      );
    });
  });

  test('timeoutMs bounds downloadTo too (TIMEOUT while the server has not answered)', LIMIT, async () => {
    await withWorld(async (server, dir) => {
      server.behave('/f', { kind: 'delay', ms: 8000 });
      const f = createFetcher({ timeoutMs: 300, stallTimeoutMs: 20_000 });
      await assert.rejects(
        f.downloadTo(`${server.url}/f`, join(dir, 'p'), { offset: 0, maxLength: FILE.length }),
        code(
          'TIMEOUT',
          TransportError,
          /^The download of http:\S+\/f took longer than 300 ms\. Check the network and retry\.$/,
        ),
      );
    });
  });

  test(
    'the rate floor is checked per window: enough bytes in the first, none in the second (TOO_SLOW)',
    LIMIT,
    async () => {
      await withWorld(async (server) => {
        // 100 B/s over 600 ms windows = 60 bytes a window. The server sends exactly 60 bytes at once
        // and then nothing for 8 s; the stall timeout is far away.
        server.behave('/f', { kind: 'stall', after: 60 });
        const f = createFetcher({ stallTimeoutMs: 20_000, minBytesPerSecond: 100, rateWindowMs: 600 });
        await assert.rejects(
          f.fetchBytes(`${server.url}/f`, FILE.length),
          // The window that fails is one with no byte (the first one had its 60 bytes).
          code(
            'TOO_SLOW',
            TransportError,
            /sent only 0 bytes in 600 ms while downloading http:\S+\/f \(less than 100 bytes per second\)\. Check the network and retry; the download resumes where it stopped\.$/,
          ),
        );
      });
    },
  );

  test(
    'an honest slow transfer, longer than the stall timeout and many rate windows, completes',
    { timeout: 90_000 },
    async () => {
      await withWorld(async (server, dir) => {
        // 18 bytes every 25 ms (about 700 B/s) for 3600 bytes: about 5 s, while the stall timeout is
        // 2 s and the floor 10 B/s over 2 s windows: only a pause of about 2 s would trip either.
        server.behave('/f', { kind: 'trickle', chunk: 18, intervalMs: 25, limit: 0, forMs: 60_000 });
        const f = createFetcher({ stallTimeoutMs: 2000, minBytesPerSecond: 10, rateWindowMs: 2000 });
        const p = join(dir, 'p');
        await f.downloadTo(`${server.url}/f`, p, { offset: 0, maxLength: FILE.length });
        assert.deepEqual(await readFile(p), FILE);
        assert.equal(server.log[0]!.behaviour, 'trickle');
      });
    },
  );
});
