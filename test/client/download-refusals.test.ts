/**
 * downloadTargets (src/client/download.ts) against a real HTTP server: what it refuses, and that a
 * refusal leaves nothing to resume from.
 * - A target signed as larger than CLIENT_LIMITS.maxTargetBytes is refused before any byte is asked
 *   for (a signed-but-absurd repository must not make the client fill the disk).
 * - A download refused for its data (more bytes than signed) leaves no `.partial`: the next attempt
 *   starts from byte 0 instead of trusting the attacker's prefix.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLIENT_LIMITS } from '../../src/core/limits.js';
import { downloadTargets } from '../../src/client/download.js';
import { createFetcher } from '../../src/client/fetcher.js';
import type { TrustedTarget } from '../../src/client/tuf/index.js';
import { startTestServer } from '../support/test-server.js';

function targetFor(path: string, bytes: Uint8Array, length = bytes.length): TrustedTarget {
  return { path, length, hashes: { sha256: createHash('sha256').update(bytes).digest('hex') }, custom: {} };
}

test('a target signed as larger than maxTargetBytes is refused before anything is downloaded', async () => {
  const small = randomBytes(1000);
  const server = await startTestServer({
    files: new Map([
      ['/targets/small.tar.gz', small],
      ['/targets/huge.tar.gz', randomBytes(1000)],
    ]),
  });
  const downloadsDir = await mkdtemp(join(tmpdir(), 'notsotuf-dl-cap-'));
  try {
    const targets = [
      targetFor('small.tar.gz', small),
      targetFor('huge.tar.gz', small, CLIENT_LIMITS.maxTargetBytes + 1),
    ];
    await assert.rejects(
      downloadTargets(targets, {
        fetcher: createFetcher(),
        targetUrl: (t) => `${server.url}/targets/${t.path}`,
        downloadsDir,
      }),
      (e: Error & { code?: string }) => {
        assert.equal(e.name, 'DataError');
        assert.equal(e.code, 'TARGET_TOO_LARGE');
        assert.match(
          e.message,
          /huge\.tar\.gz is signed as 8589934593 bytes, over the client's limit of 8589934592/,
        );
        return true;
      },
    );
    assert.deepEqual(server.requests, [], 'no byte of any target was asked for');
    assert.deepEqual(await readdir(downloadsDir), []);
  } finally {
    await server.close();
    await rm(downloadsDir, { recursive: true, force: true });
  }
});

test('the cap itself: a target of exactly maxTargetBytes is not refused for its size', async () => {
  // Fetching 8 GiB is not possible here: the server answers 404, so the failure is an HTTP one,
  // which shows the size check let it through.
  const server = await startTestServer();
  const downloadsDir = await mkdtemp(join(tmpdir(), 'notsotuf-dl-cap-edge-'));
  try {
    const target = targetFor('edge.tar.gz', Buffer.from('x'), CLIENT_LIMITS.maxTargetBytes);
    await assert.rejects(
      downloadTargets([target], {
        fetcher: createFetcher(),
        targetUrl: (t) => `${server.url}/targets/${t.path}`,
        downloadsDir,
      }),
      { name: 'HttpStatusError' },
    );
    assert.deepEqual(server.requests, ['/targets/edge.tar.gz']);
  } finally {
    await server.close();
    await rm(downloadsDir, { recursive: true, force: true });
  }
});

test('a download refused for sending more than the signed length keeps no .partial; the next attempt starts from 0', async () => {
  const honest = randomBytes(200 * 1024);
  const forged = randomBytes(honest.length);
  const server = await startTestServer({ files: new Map([['/targets/app.tar.gz', forged]]) });
  const downloadsDir = await mkdtemp(join(tmpdir(), 'notsotuf-dl-refused-'));
  try {
    const target = targetFor('app.tar.gz', honest);
    const edges = {
      fetcher: createFetcher(),
      targetUrl: (t: TrustedTarget) => `${server.url}/targets/${t.path}`,
      downloadsDir,
    };
    // The attacker sends as many bytes as signed, all wrong, then keeps going.
    server.behave('/targets/app.tar.gz', { kind: 'endless', limit: 4 * 1024 * 1024 });
    await assert.rejects(downloadTargets([target], edges), (e: Error & { code?: string }) => {
      assert.equal(e.name, 'DataError');
      assert.equal(e.code, 'TOO_LONG');
      return true;
    });
    assert.deepEqual(await readdir(downloadsDir), [], 'no partial file to resume from');

    server.clearBehaviours();
    server.files.set('/targets/app.tar.gz', honest);
    const [path] = await downloadTargets([target], edges);
    assert.ok(path !== undefined);
    assert.deepEqual(server.requests, ['/targets/app.tar.gz', '/targets/app.tar.gz'], 'no Range request');
    assert.deepEqual(await readdir(downloadsDir), [path.slice(downloadsDir.length + 1)]);
  } finally {
    await server.close();
    await rm(downloadsDir, { recursive: true, force: true });
  }
});
