import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runTufConformance, localTargetName } from '../../tools/tuf-conformance.js';
import { ROOT } from '../helpers/cli.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { TestRepo } from '../helpers/tuf-repo.js';
import { runProcess } from '../support/processes.js';

interface World {
  repo: TestRepo;
  server: TestServer;
  dir: string;
  md: string;
  td: string;
  rootFile: string;
  run: (...args: string[]) => Promise<{ code: number; out: string; err: string }>;
  init: () => Promise<number>;
  refresh: () => Promise<number>;
  download: (...names: string[]) => Promise<number>;
  [Symbol.asyncDispose]: () => Promise<void>;
}

async function world(repo = TestRepo.create()): Promise<World> {
  const server = await startTestServer({ files: repo.files });
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-conf-'));
  const md = join(dir, 'metadata');
  const td = join(dir, 'targets');
  await mkdir(md);
  await mkdir(td);
  const rootFile = join(dir, 'initial_root.json');
  await writeFile(rootFile, repo.trustedRoot);
  const run = async (...args: string[]) => {
    let out = '';
    let err = '';
    const code = await runTufConformance(args, {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
    });
    return { code, out, err };
  };
  const murl = `${server.url}/metadata`;
  return {
    repo,
    server,
    dir,
    md,
    td,
    rootFile,
    run,
    init: async () => (await run('--metadata-dir', md, 'init', rootFile)).code,
    refresh: async () => (await run('--metadata-url', murl, '--metadata-dir', md, 'refresh')).code,
    download: async (...names) =>
      (
        await run(
          '--metadata-url',
          murl,
          '--metadata-dir',
          md,
          ...names.flatMap((n) => ['--target-name', n]),
          '--target-dir',
          td,
          '--target-base-url',
          `${server.url}/targets`,
          'download',
        )
      ).code,
    [Symbol.asyncDispose]: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const metadataRequests = (s: TestServer) => s.requests.filter((r) => r.startsWith('/metadata/'));

test('init stores only the root, byte for byte, and makes no request', async () => {
  await using w = await world();
  assert.equal(await w.init(), 0);
  assert.deepEqual(await readdir(w.md), ['root.json']);
  assert.deepEqual(await readFile(join(w.md, 'root.json')), Buffer.from(w.repo.trustedRoot));
  assert.deepEqual(w.server.requests, []);
});

test('refresh with an invalid trusted root fails with exit 1 and makes no request', async () => {
  await using w = await world();
  const root = JSON.parse(Buffer.from(w.repo.trustedRoot).toString()) as { signed: Record<string, unknown> };
  delete root.signed['version'];
  await writeFile(join(w.md, 'root.json'), JSON.stringify(root));
  assert.equal(await w.refresh(), 1);
  assert.deepEqual(w.server.requests, []);
  // An unsigned root too.
  const unsigned = JSON.parse(Buffer.from(w.repo.trustedRoot).toString()) as { signatures: unknown[] };
  unsigned.signatures = [];
  await writeFile(join(w.md, 'root.json'), JSON.stringify(unsigned));
  assert.equal(await w.refresh(), 1);
  assert.deepEqual(w.server.requests, []);
});

test('refresh follows the TUF order and stores the exact bytes under unversioned names', async () => {
  await using w = await world();
  assert.equal(await w.init(), 0);
  assert.equal(await w.refresh(), 0);
  assert.deepEqual(metadataRequests(w.server), [
    '/metadata/2.root.json',
    '/metadata/timestamp.json',
    '/metadata/1.snapshot.json',
    '/metadata/1.targets.json',
  ]);
  assert.deepEqual((await readdir(w.md)).sort(), [
    'root.json',
    'snapshot.json',
    'targets.json',
    'timestamp.json',
  ]);
  for (const role of ['root', 'timestamp', 'snapshot', 'targets'])
    assert.deepEqual(await readFile(join(w.md, `${role}.json`)), Buffer.from(w.repo.latest.get(role)!), role);
});

test('only valid metadata is written, and what verified is kept when a later step fails', async () => {
  await using w = await world();
  assert.equal(await w.init(), 0);
  w.repo.publishAll();
  // The snapshot the new timestamp names is served with a byte changed: its hash no longer matches.
  const snap = Buffer.from(w.server.files.get('/metadata/2.snapshot.json')!);
  snap[snap.length - 2] = snap[snap.length - 2]! ^ 1;
  w.server.behave('/metadata/2.snapshot.json', { kind: 'body', body: snap });
  assert.equal(await w.refresh(), 1);
  assert.deepEqual((await readdir(w.md)).sort(), ['root.json', 'timestamp.json']);
  assert.deepEqual(
    await readFile(join(w.md, 'timestamp.json')),
    Buffer.from(w.repo.latest.get('timestamp')!),
  );
  // The repository is fixed: the next refresh completes.
  w.server.clearBehaviours();
  assert.equal(await w.refresh(), 0);
  assert.deepEqual(await readFile(join(w.md, 'snapshot.json')), Buffer.from(w.repo.latest.get('snapshot')!));
});

test('delegated roles are stored URL-encoded in one flat file name, never outside the folder', async () => {
  const repo = TestRepo.create();
  for (const name of ['../delegatedrole', '/abs', '?', '#']) {
    const d = repo.addDelegation({ name });
    repo.publishDelegated(d.name);
  }
  repo.publishAll();
  await using w = await world(repo);
  assert.equal(await w.init(), 0);
  assert.equal(await w.download('nonexistent target'), 1);
  const files = (await readdir(w.md)).sort();
  for (const name of ['../delegatedrole', '/abs', '?', '#'])
    assert.ok(files.includes(`${encodeURIComponent(name)}.json`), `${name}: ${files.join(' ')}`);
  assert.deepEqual((await readdir(w.dir)).sort(), ['initial_root.json', 'metadata', 'targets']);
  for (const name of ['../delegatedrole', '/abs', '?', '#'])
    assert.ok(
      w.server.requests.includes(`/metadata/2.${encodeURIComponent(name)}.json`),
      `${name} requested as ${w.server.requests.join(' ')}`,
    );
});

test('targets are downloaded in order; the first failure stops the run; no temp files remain', async () => {
  const repo = TestRepo.create();
  repo.addTarget('a.txt', 'first');
  repo.addTarget('dir/b.txt', 'second');
  repo.addTarget('c.txt', 'third');
  repo.publishAll();
  await using w = await world(repo);
  assert.equal(await w.init(), 0);
  // c.txt is tampered on the server: its bytes differ from the signed hash.
  w.server.files.set(repo.targetUrlPath('c.txt', Buffer.from('third')), Buffer.from('THIRD'));
  assert.equal(await w.download('a.txt', 'c.txt', 'dir/b.txt'), 1);
  assert.deepEqual(await readdir(w.td), ['a.txt']);
  assert.equal(w.server.requests.filter((r) => r.includes('b.txt')).length, 0, 'stopped before b');
  assert.equal(await w.download('a.txt', 'dir/b.txt'), 0);
  assert.deepEqual((await readdir(w.td)).sort(), ['a.txt', localTargetName('dir/b.txt')]);
  assert.equal((await readFile(join(w.td, localTargetName('dir/b.txt')))).toString(), 'second');
});

test('a verified copy in the target folder is not downloaded again; a damaged one is', async () => {
  const repo = TestRepo.create();
  repo.addTarget('a.txt', 'first');
  repo.publishAll();
  await using w = await world(repo);
  assert.equal(await w.init(), 0);
  assert.equal(await w.download('a.txt'), 0);
  const targetRequests = () => w.server.requests.filter((r) => r.startsWith('/targets/')).length;
  assert.equal(targetRequests(), 1);
  assert.equal(await w.download('a.txt'), 0);
  assert.equal(targetRequests(), 1);
  await writeFile(join(w.td, 'a.txt'), 'damaged');
  assert.equal(await w.download('a.txt'), 0);
  assert.equal(targetRequests(), 2);
  assert.equal((await readFile(join(w.td, 'a.txt'))).toString(), 'first');
});

test('endless target data stops at the signed length and leaves nothing in the target folder', async () => {
  const repo = TestRepo.create();
  repo.addTarget('a.txt', 'first');
  repo.publishAll();
  await using w = await world(repo);
  assert.equal(await w.init(), 0);
  w.server.behave(repo.targetUrlPath('a.txt', Buffer.from('first')), {
    kind: 'endless',
    limit: 16 * 1024 * 1024,
  });
  assert.equal(await w.download('a.txt'), 1);
  assert.deepEqual(await readdir(w.td), []);
});

test('target names "." and ".." never map outside the target folder', () => {
  assert.equal(localTargetName('..'), '%2E%2E');
  assert.equal(localTargetName('.'), '%2E');
  assert.equal(localTargetName('a/../b'), 'a%2F..%2Fb');
});

test('bad command lines exit with exactly 1', async () => {
  await using w = await world();
  assert.equal((await w.run('refresh')).code, 1);
  assert.equal((await w.run('--metadata-dir', w.md, 'frobnicate')).code, 1);
  assert.equal((await w.run('--metadata-dir', w.md, '--no-such-option', 'init', w.rootFile)).code, 1);
  assert.equal((await w.run('--metadata-dir', w.md, 'init')).code, 1);
});

function spawnBin(args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  return runProcess(join(ROOT, 'bin', 'tuf-conformance'), args, { cwd }).then(({ code, output }) => ({
    code,
    out: output,
  }));
}

test('bin/tuf-conformance runs as an executable from any folder (no build step, from its esbuild bundle)', async () => {
  const repo = TestRepo.create();
  repo.addTarget('a.txt', 'first');
  repo.publishAll();
  await using w = await world(repo);
  const murl = `${w.server.url}/metadata`;
  assert.equal((await spawnBin(['--metadata-dir', w.md, 'init', w.rootFile], w.dir)).code, 0);
  const r = await spawnBin(
    [
      '--metadata-url',
      murl,
      '--metadata-dir',
      w.md,
      '--target-name',
      'a.txt',
      '--target-dir',
      w.td,
      '--target-base-url',
      `${w.server.url}/targets`,
      'download',
    ],
    w.dir,
  );
  assert.equal(r.code, 0, r.out);
  assert.equal((await readFile(join(w.td, 'a.txt'))).toString(), 'first');
  // It ran from the bundle (made on the first run, or earlier), not through a TypeScript loader.
  const bundle = await readFile(join(ROOT, '.cache', 'tuf-conformance', 'tuf-conformance.mjs'), 'utf8');
  assert.match(bundle, /runTufConformance/);
  assert.doesNotMatch(await readFile(join(ROOT, 'bin', 'tuf-conformance'), 'utf8'), /tsx/);
  const bad = await spawnBin(
    ['--metadata-url', murl, '--metadata-dir', join(w.dir, 'nowhere'), 'refresh'],
    w.dir,
  );
  assert.equal(bad.code, 1, bad.out);
});

test('delegations are searched in preorder depth-first order, and a terminating one ends the search', async () => {
  const repo = TestRepo.create();
  repo.addDelegation({ name: 'A' });
  repo.addDelegation({ name: 'C', parent: 'A' });
  repo.addDelegation({ name: 'B', terminating: true });
  repo.addDelegation({ name: 'D' });
  for (const d of ['C', 'A', 'B', 'D']) repo.publishDelegated(d);
  repo.publishAll();
  await using w = await world(repo);
  assert.equal(await w.init(), 0);
  assert.equal(await w.refresh(), 0);
  const from = w.server.requests.length;
  assert.equal(await w.download('missing'), 1);
  const roles = w.server.requests
    .slice(from)
    .map((r) => /^\/metadata\/\d+\.([A-Z])\.json$/.exec(r)?.[1])
    .filter((r) => r !== undefined);
  // A, then A's child C, then B (terminating: D is never visited).
  assert.deepEqual(roles, ['A', 'C', 'B']);
  const files = (await readdir(w.md)).sort();
  assert.deepEqual(files, [
    'A.json',
    'B.json',
    'C.json',
    'root.json',
    'snapshot.json',
    'targets.json',
    'timestamp.json',
  ]);
});

test('a timestamp whose content changed without a new version is ignored; the trusted one is kept', async () => {
  await using w = await world();
  assert.equal(await w.init(), 0);
  assert.equal(await w.refresh(), 0);
  const trusted = await readFile(join(w.md, 'timestamp.json'));
  // Same version 1, but naming another snapshot version.
  w.repo.version.snapshot = 5;
  w.repo.publishTimestamp();
  assert.notDeepEqual(Buffer.from(w.repo.latest.get('timestamp')!), trusted);
  assert.equal(await w.refresh(), 0);
  assert.deepEqual(await readFile(join(w.md, 'timestamp.json')), trusted);
});

test('an expired delegated role fails the download and is not stored', async () => {
  const repo = TestRepo.create();
  const d = repo.addDelegation({
    name: 'apps',
    paths: ['apps/*'],
    expires: new Date(Date.now() - 86_400_000),
  });
  d.targets.set('apps/a.txt', { bytes: Buffer.from('a') });
  repo.serveTarget('apps/a.txt', Buffer.from('a'));
  repo.publishDelegated('apps');
  repo.publishAll();
  await using w = await world(repo);
  assert.equal(await w.init(), 0);
  assert.equal(await w.download('apps/a.txt'), 1);
  assert.ok(!(await readdir(w.md)).includes('apps.json'));
  assert.deepEqual(await readdir(w.td), []);
});

test('a delegated role already loaded through one delegator is verified again against the next delegator and its keys', async () => {
  // targets delegates to A and B; both delegate the role name C, with different keys and paths.
  // C is signed only by the key A's delegation names. Through A (paths y*) it is valid for y.txt;
  // through B (paths x*) it must be checked against B's key, which never signed it.
  const repo = TestRepo.create();
  repo.addDelegation({ name: 'A' });
  repo.addDelegation({ name: 'B' });
  const viaA = repo.addDelegation({ name: 'C', parent: 'A', paths: ['y*'] });
  repo.addDelegation({ name: 'C', parent: 'B', paths: ['x*'] });
  for (const name of ['x.txt', 'y.txt']) {
    viaA.targets.set(name, { bytes: Buffer.from(name) });
    repo.serveTarget(name, Buffer.from(name));
  }
  repo.publishAll();
  await using w = await world(repo);
  assert.equal(await w.init(), 0);
  // Alone, x.txt is refused: C does not verify against B's delegation.
  assert.equal(await w.download('x.txt'), 1);
  assert.deepEqual(await readdir(w.td), []);
  // After y.txt loaded C through A in the same run, x.txt must still be refused.
  assert.equal(await w.download('y.txt', 'x.txt'), 1);
  assert.deepEqual(await readdir(w.td), [localTargetName('y.txt')]);
  // y.txt alone is fine (C through A is valid).
  assert.equal(await w.download('y.txt'), 0);
});
