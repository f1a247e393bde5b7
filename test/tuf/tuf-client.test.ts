import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataError, InstallError, TransportError, UsageError } from '../../src/errors.js';
import { createFetcher } from '../../src/client/fetcher.js';
import { TufClient, verifyTargetFile } from '../../src/client/tuf/index.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { TestRepo, days } from '../helpers/tuf-repo.js';

async function setup(repo = TestRepo.create()): Promise<{
  repo: TestRepo;
  server: TestServer;
  dir: string;
  client: () => TufClient;
  [Symbol.asyncDispose]: () => Promise<void>;
}> {
  const server = await startTestServer({ files: repo.files });
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-tuf-'));
  await TufClient.initialize(join(dir, 'metadata'), repo.trustedRoot);
  return {
    repo,
    server,
    dir,
    client: () =>
      new TufClient({
        metadataDir: join(dir, 'metadata'),
        metadataUrl: `${server.url}/metadata`,
        targetsUrl: `${server.url}/targets`,
        fetcher: createFetcher({ stallTimeoutMs: 2000 }),
      }),
    [Symbol.asyncDispose]: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test('refresh stores the exact bytes of every role under unversioned names', async () => {
  const repo = TestRepo.create();
  repo.addTarget('app-1.0.0.tar.gz', 'hello', { notsotuf: { kind: 'archive' } });
  repo.publishAll();
  await using s = await setup(repo);
  const c = s.client();
  await c.refresh();
  const md = join(s.dir, 'metadata');
  assert.deepEqual((await readdir(md)).sort(), [
    'root.json',
    'snapshot.json',
    'targets.json',
    'timestamp.json',
  ]);
  for (const role of ['root', 'timestamp', 'snapshot', 'targets'])
    assert.deepEqual(
      new Uint8Array(await readFile(join(md, `${role}.json`))),
      new Uint8Array(repo.latest.get(role)!),
    );
  const targets = await c.listTargets();
  assert.equal(targets.length, 1);
  assert.equal(targets[0]!.path, 'app-1.0.0.tar.gz');
  assert.equal(targets[0]!.length, 5);
  assert.deepEqual(targets[0]!.custom, { notsotuf: { kind: 'archive' } });
  const t = await c.getTarget('app-1.0.0.tar.gz');
  assert.ok(t);
  assert.equal(
    new URL(c.targetUrl(t)).pathname,
    repo.targetUrlPath('app-1.0.0.tar.gz', Buffer.from('hello')),
  );
  assert.equal(await c.getTarget('missing'), undefined);
});

test('a target file is checked against its signed length and hash', async () => {
  const repo = TestRepo.create();
  repo.addTarget('a.bin', 'right bytes');
  repo.publishAll();
  await using s = await setup(repo);
  const c = s.client();
  await c.refresh();
  const t = (await c.getTarget('a.bin'))!;
  const f = join(s.dir, 'a.bin');
  await writeFile(f, 'right bytes');
  await verifyTargetFile(f, t);
  await writeFile(f, 'wrong bytes');
  await assert.rejects(
    verifyTargetFile(f, t),
    (e: unknown) => e instanceof DataError && e.code === 'TARGET_MISMATCH',
  );
  await writeFile(f, 'right bytes!');
  await assert.rejects(
    verifyTargetFile(f, t),
    (e: unknown) => e instanceof DataError && e.code === 'TARGET_MISMATCH',
  );
});

test('listTargets before refresh is a usage error; a missing trusted root is an install error', async () => {
  await using s = await setup();
  await assert.rejects(s.client().listTargets(), UsageError);
  await rm(join(s.dir, 'metadata', 'root.json'));
  await assert.rejects(
    s.client().refresh(),
    (e: unknown) => e instanceof InstallError && e.code === 'NO_TRUSTED_ROOT',
  );
  assert.deepEqual(s.server.requests, []);
});

test('an invalid trusted root is refused before any request', async () => {
  await using s = await setup();
  const root = JSON.parse(Buffer.from(s.repo.trustedRoot).toString()) as { signed: { version?: number } };
  delete root.signed.version;
  await writeFile(join(s.dir, 'metadata', 'root.json'), JSON.stringify(root));
  await assert.rejects(
    s.client().refresh(),
    (e: unknown) => e instanceof DataError && e.code === 'TRUSTED_ROOT_INVALID',
  );
  assert.deepEqual(s.server.requests, []);
  await assert.rejects(
    TufClient.initialize(join(s.dir, 'other'), Buffer.from(JSON.stringify(root))),
    DataError,
  );
});

test('initialize never replaces an existing (possibly newer) root', async () => {
  await using s = await setup();
  s.repo.rotateRoot();
  await s.client().refresh();
  const md = join(s.dir, 'metadata', 'root.json');
  const before = await readFile(md);
  await TufClient.initialize(join(s.dir, 'metadata'), s.repo.trustedRoot);
  assert.deepEqual(await readFile(md), before);
  assert.deepEqual(new Uint8Array(before), new Uint8Array(s.repo.roots[1]!));
});

test('the server being down is a transport error, HTTP errors keep their status', async () => {
  await using s = await setup();
  s.server.behave('/metadata/timestamp.json', { kind: 'status', status: 500 });
  await assert.rejects(
    s.client().refresh(),
    (e: unknown) => e instanceof TransportError && e.code === 'HTTP_ERROR',
  );
  s.server.behave('/metadata/timestamp.json', { kind: 'status', status: 404 });
  await assert.rejects(
    s.client().refresh(),
    (e: unknown) => e instanceof TransportError && e.code === 'HTTP_ERROR',
  );
});

test('an injected clock decides expiry (spec 5.1 reference time)', async () => {
  await using s = await setup();
  const late = new TufClient({
    metadataDir: join(s.dir, 'metadata'),
    metadataUrl: `${s.server.url}/metadata`,
    targetsUrl: `${s.server.url}/targets`,
    fetcher: createFetcher(),
    now: () => days(2),
  });
  await assert.rejects(late.refresh(), (e: unknown) => e instanceof DataError && e.code === 'EXPIRED');
  await s.client().refresh();
});

test('delegated targets are found in order and stored under one flat URL-encoded file name', async () => {
  const repo = TestRepo.create();
  const d = repo.addDelegation({ name: '../evil/role?#', paths: ['apps/*'] });
  d.targets.set('apps/x.bin', { bytes: Buffer.from('x') });
  repo.serveTarget('apps/x.bin', Buffer.from('x'));
  repo.publishDelegated(d.name);
  repo.publishAll();
  await using s = await setup(repo);
  const c = s.client();
  await c.refresh();
  const t = await c.getTarget('apps/x.bin');
  assert.equal(t?.length, 1);
  const files = (await readdir(join(s.dir, 'metadata'))).sort();
  assert.ok(files.includes(`${encodeURIComponent('../evil/role?#')}.json`), files.join(','));
  assert.deepEqual(await readdir(s.dir), ['metadata']);
  // Second run: the local copy of the delegated role is used, not fetched again.
  const before = s.server.requests.length;
  const c2 = s.client();
  await c2.refresh();
  await c2.getTarget('apps/x.bin');
  assert.equal(s.server.requests.slice(before).filter((r) => r.includes('evil')).length, 0);
});

test('the metadata folder holds the exact bytes received, even bytes that are not UTF-8 text', async () => {
  await using s = await setup();
  s.repo.bumpTimestamp();
  // An unsigned extra field in a signature entry, holding a byte that is not valid UTF-8: the
  // metadata still verifies, and must be stored as received (not re-encoded as text).
  const text = Buffer.from(s.repo.latest.get('timestamp')!).toString();
  const at = text.indexOf('"sig"');
  const body = Buffer.concat([
    Buffer.from(text.slice(0, at)),
    Buffer.from('"note": "'),
    Buffer.from([0xff, 0xfe]),
    Buffer.from('", '),
    Buffer.from(text.slice(at)),
  ]);
  s.server.behave('/metadata/timestamp.json', { kind: 'body', body });
  await s.client().refresh();
  assert.deepEqual(await readFile(join(s.dir, 'metadata', 'timestamp.json')), body);
});

test('a repository without consistent snapshots is read by unversioned names', async () => {
  const repo = new TestRepo();
  repo.consistentSnapshot = false;
  repo.publishRoot();
  repo.addTarget('dir/app.bin', 'plain');
  repo.publishTargets();
  repo.publishSnapshot();
  repo.publishTimestamp();
  await using s = await setup(repo);
  const c = s.client();
  await c.refresh();
  assert.ok(s.server.requests.includes('/metadata/snapshot.json'), s.server.requests.join(' '));
  const t = (await c.getTarget('dir/app.bin'))!;
  assert.equal(new URL(c.targetUrl(t)).pathname, '/targets/dir/app.bin');
});

test('a refresh can be cancelled with an abort signal', async () => {
  await using s = await setup();
  s.server.behave('/metadata/timestamp.json', { kind: 'stall', after: 5 });
  const ac = new AbortController();
  const c = new TufClient({
    metadataDir: join(s.dir, 'metadata'),
    metadataUrl: `${s.server.url}/metadata`,
    targetsUrl: `${s.server.url}/targets`,
    fetcher: createFetcher(),
    signal: ac.signal,
  });
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(c.refresh(), (e: unknown) => e instanceof TransportError && e.code === 'ABORTED');
});

test('initialize replaces a damaged trusted root with the shipped one, and the chain is followed again', async () => {
  await using s = await setup();
  s.repo.rotateRoot();
  const md = join(s.dir, 'metadata', 'root.json');
  await writeFile(md, '{"signed": {"_type": "root"');
  await assert.rejects(
    s.client().refresh(),
    (e: unknown) => e instanceof DataError && e.code === 'TRUSTED_ROOT_INVALID',
  );
  await TufClient.initialize(join(s.dir, 'metadata'), s.repo.trustedRoot);
  assert.deepEqual(await readFile(md), Buffer.from(s.repo.trustedRoot));
  await s.client().refresh();
  assert.deepEqual(await readFile(md), Buffer.from(s.repo.roots[1]!));
});

test('target paths with dot segments are refused instead of leaving the targets folder', async () => {
  await using s = await setup();
  const c = s.client();
  await c.refresh();
  for (const path of ['../escape.bin', 'a/./b', 'a//b', '%2e%2E/x', 'dir/..'])
    assert.throws(
      () => c.targetUrl({ path, length: 1, hashes: { sha256: 'ab' }, custom: undefined }),
      (e: unknown) => e instanceof DataError && e.code === 'BAD_TARGET_PATH',
      path,
    );
  assert.match(
    c.targetUrl({ path: 'dir/a..b', length: 1, hashes: { sha256: 'ab' }, custom: undefined }),
    /\/targets\/dir\/ab\.a\.\.b$/,
  );
});

test('a trusted metadata file that cannot be written is an install error, not bad data', async () => {
  await using s = await setup();
  // A folder where snapshot.json should go: the rename of the verified file fails.
  await mkdir(join(s.dir, 'metadata', 'snapshot.json'));
  await assert.rejects(
    s.client().refresh(),
    (e: unknown) => e instanceof InstallError && e.code === 'METADATA_WRITE_FAILED',
  );
  assert.deepEqual((await readdir(join(s.dir, 'metadata'))).sort(), [
    'root.json',
    'snapshot.json',
    'timestamp.json',
  ]);
});
