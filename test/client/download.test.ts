/**
 * downloadTargets (src/client/download.ts) against a real HTTP server on 127.0.0.1: where files
 * land (`downloads/<sha256-prefix>.<target name>`, docs/client.md), what is taken from the disk
 * without downloading again and what is checked first, and the progress it reports. Written from
 * the survivors of the mutation run of download.ts (docs/security.md).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import type { DownloadProgress } from '../../src/client/client-options.js';
import { downloadTargets } from '../../src/client/download.js';
import { InstallError } from '../../src/errors.js';
import { createFetcher } from '../../src/client/fetcher.js';
import type { TrustedTarget } from '../../src/client/tuf/index.js';
import { startTestServer } from '../support/test-server.js';
import type { TestServer } from '../support/test-server.js';
import { withTempDir } from '../support/temp-dir.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function targetFor(path: string, bytes: Uint8Array): TrustedTarget {
  return { path, length: bytes.length, hashes: { sha256: sha256(bytes) }, custom: {} };
}

async function withServer(
  files: Record<string, Uint8Array>,
  fn: (server: TestServer, downloadsDir: string) => Promise<void>,
): Promise<void> {
  const server = await startTestServer({
    files: new Map(Object.entries(files).map(([name, bytes]) => [`/targets/${name}`, bytes])),
  });
  try {
    await withTempDir((dir) => fn(server, join(dir, 'downloads')));
  } finally {
    await server.close();
  }
}

const edgesFor = (server: TestServer, downloadsDir: string, verified = new Set<string>()) => ({
  fetcher: createFetcher(),
  targetUrl: (t: TrustedTarget) => `${server.url}/targets/${t.path}`,
  downloadsDir,
  verified,
});

test('each file lands as <first 16 hex of its sha256>.<name>: two versions of one name never collide', async () => {
  const v1 = randomBytes(3000);
  const v2 = randomBytes(4000);
  await withServer({ 'app.tar.gz': v1 }, async (server, downloadsDir) => {
    const edges = edgesFor(server, downloadsDir);
    const [first] = await downloadTargets([targetFor('app.tar.gz', v1)], edges);
    server.files.set('/targets/app.tar.gz', v2);
    const [second] = await downloadTargets([targetFor('app.tar.gz', v2)], edges);
    assert.equal(first, join(downloadsDir, `${sha256(v1).slice(0, 16)}.app.tar.gz`));
    assert.equal(second, join(downloadsDir, `${sha256(v2).slice(0, 16)}.app.tar.gz`));
    assert.deepEqual(await readFile(first), v1, 'the first version is still there');
    assert.deepEqual(await readFile(second), v2);
    assert.deepEqual(edges.verified, new Set([first, second]), 'both are known verified afterwards');
  });
});

test('a target without a sha256 in its signed hashes is refused (NO_SHA256) before any request', async () => {
  await withServer({ 'app.tar.gz': Buffer.from('x') }, async (server, downloadsDir) => {
    const target = { path: 'app.tar.gz', length: 1, hashes: { sha512: 'ab'.repeat(64) }, custom: {} };
    await assert.rejects(
      downloadTargets([target], edgesFor(server, downloadsDir)),
      (e: Error & { code?: string }) => {
        assert.equal(e.name, 'DataError');
        assert.equal(e.code, 'NO_SHA256');
        assert.equal(e.message, 'target app.tar.gz has no sha256 in signed metadata; the client needs one');
        return true;
      },
    );
    assert.deepEqual(server.requests, []);
  });
});

test('a verified file already in downloads is used without a request; a same-size corrupt one is replaced', async () => {
  const bytes = randomBytes(5000);
  await withServer({ 'app.tar.gz': bytes }, async (server, downloadsDir) => {
    const target = targetFor('app.tar.gz', bytes);
    const [path] = await downloadTargets([target], edgesFor(server, downloadsDir));
    assert.equal(server.requests.length, 1);

    // A fresh process (nothing verified yet) with the file in place: checked, not downloaded.
    const events: DownloadProgress[] = [];
    const again = await downloadTargets([target], edgesFor(server, downloadsDir), {
      onProgress: (p) => events.push(p),
    });
    assert.deepEqual(again, [path]);
    assert.equal(server.requests.length, 1, 'no second request');
    assert.deepEqual(events.at(-1), {
      stage: 'download',
      bytesDone: bytes.length,
      totalBytes: bytes.length,
      bytesPerSecond: 0,
      file: 'app.tar.gz',
    });

    // The disk is not trusted more than the network: same size, other bytes is downloaded again.
    const corrupt = Buffer.from(bytes);
    corrupt[100] = (corrupt[100] ?? 0) ^ 0xff;
    await writeFile(path!, corrupt);
    await downloadTargets([target], edgesFor(server, downloadsDir));
    assert.equal(server.requests.length, 2);
    assert.deepEqual(await readFile(path!), bytes);
    // A shorter file under the final name is not taken either.
    await writeFile(path!, bytes.subarray(0, 10));
    await downloadTargets([target], edgesFor(server, downloadsDir));
    assert.equal(server.requests.length, 3);
    assert.deepEqual(await readFile(path!), bytes);
    assert.deepEqual(await readdir(downloadsDir), [basename(path!)], 'no .partial left');
  });
});

test('a complete .partial left by a crash before the rename is checked and used without a request', async () => {
  const bytes = randomBytes(5000);
  await withServer({ 'app.tar.gz': bytes }, async (server, downloadsDir) => {
    const target = targetFor('app.tar.gz', bytes);
    const [path] = await downloadTargets([target], edgesFor(server, downloadsDir));
    const partial = `${path!}.partial`;
    await writeFile(partial, await readFile(path!));
    await writeFile(path!, ''); // the final name holds nothing usable
    assert.deepEqual(await downloadTargets([target], edgesFor(server, downloadsDir)), [path]);
    assert.deepEqual(server.requests, ['/targets/app.tar.gz'], 'no request for the complete partial');
    assert.deepEqual(await readFile(path!), bytes);

    // A complete-looking .partial with wrong bytes is refused and removed: the next try starts over.
    const wrong = randomBytes(bytes.length);
    await writeFile(partial, wrong);
    await writeFile(path!, '');
    await assert.rejects(downloadTargets([target], edgesFor(server, downloadsDir)), { name: 'DataError' });
    assert.deepEqual(await readdir(downloadsDir), [basename(path!)], 'the wrong .partial is removed');
    await downloadTargets([target], edgesFor(server, downloadsDir));
    assert.deepEqual(await readFile(path!), bytes);
  });
});

test('progress: one total for all files, each file named, bytes done never past the total, a rate from the clock', async () => {
  const a = randomBytes(300 * 1024);
  const b = randomBytes(200 * 1024);
  await withServer({ 'a.tar.gz': a, 'b.patch': b }, async (server, downloadsDir) => {
    let clock = 0;
    const events: DownloadProgress[] = [];
    // A clock that moves one second per reading: the rate is bytes moved per second of that clock.
    const edges = { ...edgesFor(server, downloadsDir), now: () => (clock += 1000) };
    // b is half there from an earlier try, and the server ignores Range: it restarts from byte 0.
    const bPath = join(downloadsDir, `${sha256(b).slice(0, 16)}.b.patch`);
    server.behave('/targets/b.patch', { kind: 'ignore-range' });
    await downloadTargets([targetFor('a.tar.gz', a)], edges); // creates the folder
    await writeFile(`${bPath}.partial`, b.subarray(0, 100 * 1024));
    events.length = 0;
    clock = 0;
    await downloadTargets([targetFor('a.tar.gz', a), targetFor('b.patch', b)], edges, {
      onProgress: (p) => events.push(p),
    });
    assert.deepEqual(await readFile(bPath), b);
    const total = a.length + b.length;
    assert.ok(events.length >= 3, `${events.length} events`);
    for (const e of events) {
      assert.equal(e.stage, 'download');
      assert.equal(e.totalBytes, total);
      assert.ok(e.bytesDone <= total, `${e.bytesDone} <= ${total}`);
      assert.ok(Number.isFinite(e.bytesPerSecond) && e.bytesPerSecond >= 0, JSON.stringify(e));
      assert.ok(e.bytesPerSecond <= b.length, 'at most the bytes moved, over at least one second');
    }
    assert.deepEqual(
      [...new Set(events.map((e) => e.file))],
      ['a.tar.gz', 'b.patch'],
      'a (already there) first, then b',
    );
    assert.equal(events[0]!.bytesDone, a.length, 'a counts as done at once');
    assert.equal(events[0]!.bytesPerSecond, 0, 'nothing moved yet');
    const last = events.at(-1)!;
    assert.equal(last.bytesDone, total);
    assert.ok(last.bytesPerSecond > 0, 'bytes moved: a rate above 0');
  });
});

test('the rate is bytes moved over the seconds of the injected clock; 0 while no time has passed', async () => {
  const a = randomBytes(64 * 1024);
  await withServer({ 'a.tar.gz': a }, async (server, downloadsDir) => {
    // The clock reads 1000 ms at the start, then 3000 ms: two seconds for the whole download.
    let reads = 0;
    const twoSeconds = { ...edgesFor(server, downloadsDir), now: () => (reads++ === 0 ? 1000 : 3000) };
    const events: DownloadProgress[] = [];
    await downloadTargets([targetFor('a.tar.gz', a)], twoSeconds, { onProgress: (p) => events.push(p) });
    assert.equal(events.at(-1)?.bytesDone, a.length);
    assert.equal(events.at(-1)?.bytesPerSecond, a.length / 2);

    // A clock that does not move: no rate (0), never a division by zero.
    const frozen = { ...edgesFor(server, join(downloadsDir, 'again')), now: () => 5000 };
    const still: DownloadProgress[] = [];
    await downloadTargets([targetFor('a.tar.gz', a)], frozen, { onProgress: (p) => still.push(p) });
    assert.equal(still.at(-1)?.bytesDone, a.length);
    assert.deepEqual(
      still.map((p) => p.bytesPerSecond),
      still.map(() => 0),
    );
  });
});

test('a file this process verified but changed on disk since (another size) is checked and fetched again', async () => {
  const bytes = randomBytes(5000);
  await withServer({ 'app.tar.gz': bytes }, async (server, downloadsDir) => {
    const edges = edgesFor(server, downloadsDir);
    const [path] = await downloadTargets([targetFor('app.tar.gz', bytes)], edges);
    assert.ok(path !== undefined && edges.verified.has(path));
    await writeFile(path, bytes.subarray(0, 4000));
    assert.deepEqual(await downloadTargets([targetFor('app.tar.gz', bytes)], edges), [path]);
    assert.equal(server.requests.length, 2, 'fetched again');
    assert.deepEqual(await readFile(path), bytes);
  });
});

test('a server that declares more bytes than signed is refused (TOO_LONG) before a .partial exists', async () => {
  const bytes = randomBytes(5000);
  await withServer({ 'app.tar.gz': bytes }, async (server, downloadsDir) => {
    server.behave('/targets/app.tar.gz', { kind: 'body', body: randomBytes(6000) });
    await assert.rejects(downloadTargets([targetFor('app.tar.gz', bytes)], edgesFor(server, downloadsDir)), {
      name: 'DataError',
      code: 'TOO_LONG',
    });
    assert.deepEqual(await readdir(downloadsDir), []);
  });
});

test('a final name or .partial that cannot be read (a symlink loop) stops with READ_FAILED: no request, nothing written over it', async () => {
  const bytes = randomBytes(5000);
  const target = targetFor('app.tar.gz', bytes);
  for (const which of ['final', 'partial'] as const) {
    await withServer({ 'app.tar.gz': bytes }, async (server, downloadsDir) => {
      await mkdir(downloadsDir, { recursive: true });
      const finalPath = join(downloadsDir, `${sha256(bytes).slice(0, 16)}.app.tar.gz`);
      const path = which === 'final' ? finalPath : `${finalPath}.partial`;
      // A link to itself: stat fails with ELOOP (only ENOENT means "no file yet").
      await symlink(basename(path), path);
      await assert.rejects(downloadTargets([target], edgesFor(server, downloadsDir)), (e: unknown) => {
        assert.ok(e instanceof InstallError, String(e));
        assert.equal(e.code, 'READ_FAILED');
        assert.match(
          e.message,
          /could not read .*app\.tar\.gz.* \(ELOOP.*check that the app's state folder is readable, and remove this file if it is not a download\.$/,
        );
        assert.equal((e.cause as NodeJS.ErrnoException).code, 'ELOOP');
        return true;
      });
      assert.deepEqual(server.requests, [], which);
      assert.equal(await readlink(path), basename(path), `${which}: the link is still there`);
      assert.deepEqual(await readdir(downloadsDir), [basename(path)]);
    });
  }
});

test('an empty target (signed length 0) is fetched, checked and lands as an empty file', async () => {
  const empty = new Uint8Array(0);
  await withServer({ 'empty.bin': empty }, async (server, downloadsDir) => {
    const target = targetFor('empty.bin', empty);
    const edges = edgesFor(server, downloadsDir);
    const [path] = await downloadTargets([target], edges);
    assert.equal(path, join(downloadsDir, `${sha256(empty).slice(0, 16)}.empty.bin`));
    assert.deepEqual(await readFile(path), Buffer.alloc(0));
    assert.deepEqual(await readdir(downloadsDir), [basename(path)], 'no .partial left');
    assert.deepEqual(server.requests, ['/targets/empty.bin']);
    assert.deepEqual(edges.verified, new Set([path]));
  });
});

test('a file this process verified is taken on its size without hashing it again', async () => {
  const bytes = randomBytes(5000);
  await withServer({ 'app.tar.gz': bytes }, async (server, downloadsDir) => {
    const edges = edgesFor(server, downloadsDir);
    const target = targetFor('app.tar.gz', bytes);
    const [path] = await downloadTargets([target], edges);
    // Same size, other bytes: only hashing could tell. This process verified the file and owns
    // it, so it is not read again (the patch engine and gunzip check their inputs' digests anyway).
    const changed = Buffer.from(bytes);
    changed[100] = (changed[100] ?? 0) ^ 0xff;
    await writeFile(path!, changed);
    assert.deepEqual(await downloadTargets([target], edges), [path]);
    assert.equal(server.requests.length, 1, 'no second request');
    assert.deepEqual(await readFile(path!), changed, 'not hashed, so not replaced');
    // A new process (nothing verified yet) hashes it, refuses it and fetches it again.
    assert.deepEqual(await downloadTargets([target], edgesFor(server, downloadsDir)), [path]);
    assert.equal(server.requests.length, 2);
    assert.deepEqual(await readFile(path!), bytes);
  });
});
