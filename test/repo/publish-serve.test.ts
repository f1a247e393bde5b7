import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  addRelease,
  initRepository,
  publishRepository,
  serveRepository,
  verifyRepository,
} from '../../src/repo/index.js';
import { parseRange } from '../../src/repo/serve.js';
import { appFolder, hashTree, tempDir } from './publisher-fixture.js';

function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    // A raw request keeps "/../" in the path (fetch and URL would normalise it away).
    const u = new URL(url);
    const path = url.slice(url.indexOf('/', 'http://'.length));
    const req = request({ host: u.hostname, port: u.port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

test('publish copies in the safe order (targets, versioned metadata, root.json, timestamp.json last) and skips equal files', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  const dest = join(await tempDir('notsotuf-public-'), 'site');
  const seen: string[] = [];
  const first = await publishRepository(config.repository, dest, { onFile: (rel) => void seen.push(rel) });
  assert.equal(first.skipped.length, 0);
  assert.equal(seen[seen.length - 1], 'metadata/timestamp.json');
  assert.equal(seen[seen.length - 2], 'metadata/root.json');
  const lastTarget = Math.max(...seen.map((r, i) => (r.startsWith('targets/') ? i : -1)));
  const firstMeta = seen.findIndex((r) => r.startsWith('metadata/'));
  assert.ok(lastTarget < firstMeta, 'every target before any metadata');
  assert.ok(seen.indexOf('metadata/2.targets.json') < seen.indexOf('metadata/2.snapshot.json'));
  assert.deepEqual(await hashTree(dest), await hashTree(config.repository));

  await addRelease(config, '1.1.0', await appFolder(apps, '1.1.0'));
  const second = await publishRepository(config.repository, dest);
  assert.deepEqual(
    [
      ...second.copied
        .slice(0, 2)
        .map((r) => r.replace(/[0-9a-f]{64}/, 'H'))
        .sort(),
      ...second.copied.slice(2),
    ],
    [
      'targets/H.demo-1.1.0.patch',
      'targets/H.demo-1.1.0.tar.gz',
      'metadata/3.targets.json',
      'metadata/3.snapshot.json',
      'metadata/timestamp.json',
    ],
  );
  assert.ok(second.skipped.includes('metadata/1.root.json'));
  assert.equal((await verifyRepository(dest)).ok, true);

  // Another copy of the project (made before 1.1.0) must not roll the published repository back.
  const stale = join(await tempDir('notsotuf-stale-'), 'repository');
  const { cp } = await import('node:fs/promises');
  await cp(config.repository, stale, { recursive: true });
  await addRelease(config, '1.2.0', await appFolder(apps, '1.2.0'));
  await publishRepository(config.repository, dest);
  const before = await hashTree(dest);
  await assert.rejects(publishRepository(stale, dest), { code: 'DESTINATION_NEWER' });
  assert.deepEqual(await hashTree(dest), before);
});

test('publish --dry-run writes nothing and lists what a publish would copy', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  const dest = join(await tempDir('notsotuf-public-'), 'site');
  const dry = await publishRepository(config.repository, dest, { dryRun: true });
  await assert.rejects(readFile(join(dest, 'metadata', 'timestamp.json')), { code: 'ENOENT' });
  const real = await publishRepository(config.repository, dest);
  assert.deepEqual(dry.copied, real.copied);
  assert.equal(dry.bytes, real.bytes);
  assert.ok(real.bytes > 0);
});

test('publish refuses a destination whose versioned metadata differs from ours (another copy published it), and writes nothing', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  const dest = join(await tempDir('notsotuf-public-'), 'site');
  await publishRepository(config.repository, dest);
  // Another copy released 1.1.0 as targets version 3 and published it, but its timestamp has
  // not reached DEST yet (an interrupted publish): our own 3.targets.json must not replace it.
  await addRelease(config, '1.1.0', await appFolder(apps, '1.1.0'));
  await writeFile(join(dest, 'metadata', '3.targets.json'), '{"signed":{"version":3},"signatures":[]}');
  const before = await hashTree(dest);
  await assert.rejects(publishRepository(config.repository, dest), { code: 'DESTINATION_CHANGED' });
  assert.deepEqual(await hashTree(dest), before);
});

test('publish refuses a repository that does not verify, and copies nothing', async () => {
  const dir = await tempDir();
  const config = await initRepository(dir, { app: 'demo' });
  await writeFile(join(config.repository, 'metadata', '1.snapshot.json'), '{}');
  const dest = join(await tempDir('notsotuf-public-'), 'site');
  await assert.rejects(publishRepository(config.repository, dest), { code: 'REPOSITORY_INVALID' });
  await assert.rejects(readFile(join(dest, 'metadata', 'timestamp.json')), { code: 'ENOENT' });
  await assert.rejects(publishRepository(config.repository, join(config.repository, 'copy')), {
    code: 'BAD_DESTINATION',
  });
});

test('serve: files, byte ranges (resume), 416 past the end, nothing outside the folder', async () => {
  const dir = await tempDir();
  const config = await initRepository(dir, { app: 'demo' });
  const server = await serveRepository({ root: config.repository });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const whole = await get(`${server.url}/metadata/root.json`);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers['accept-ranges'], 'bytes');
    assert.deepEqual(whole.body, await readFile(join(config.repository, 'metadata', 'root.json')));
    const part = await get(`${server.url}/metadata/root.json`, { range: 'bytes=10-19' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 10-19/${whole.body.length}`);
    assert.deepEqual(part.body, whole.body.subarray(10, 20));
    const tail = await get(`${server.url}/metadata/root.json`, { range: 'bytes=100-' });
    assert.deepEqual(tail.body, whole.body.subarray(100));
    const suffix = await get(`${server.url}/metadata/root.json`, { range: 'bytes=-5' });
    assert.deepEqual(suffix.body, whole.body.subarray(whole.body.length - 5));
    const past = await get(`${server.url}/metadata/root.json`, { range: `bytes=${whole.body.length}-` });
    assert.equal(past.status, 416);
    assert.equal((await get(`${server.url}/metadata/../../notsotuf.json`)).status, 404);
    assert.equal((await get(`${server.url}/metadata/%2e%2e/%2e%2e/notsotuf.json`)).status, 404);
    assert.equal((await get(`${server.url}/metadata/`)).status, 404);
    assert.equal((await get(`${server.url}/nope.json`)).status, 404);
    await symlink(join(dir, 'notsotuf.json'), join(config.repository, 'leak.json'));
    assert.equal(
      (await get(`${server.url}/leak.json`)).status,
      404,
      'a symlink out of the folder is not followed',
    );
  } finally {
    await server.close();
  }
});

test('parseRange', () => {
  assert.deepEqual(parseRange('bytes=0-0', 10), { start: 0, end: 0 });
  assert.deepEqual(parseRange('bytes=5-100', 10), { start: 5, end: 9 });
  assert.equal(parseRange('bytes=10-', 10), 'unsatisfiable');
  assert.equal(parseRange('bytes=5-3', 10), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-1,3-4', 10), undefined);
  assert.equal(parseRange(undefined, 10), undefined);
});
