import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  addRelease,
  initRepository,
  listReleases,
  readReleases,
  refreshRepository,
  removeLatestRelease,
  verifyRepository,
} from '../../src/repo/index.js';
import { DIFF_PATCH_MAKER, publisherTarPath } from '../../src/repo/release.js';
import { applyPatch, createPatch } from '../../src/diff/index.js';
import { appFolder, hashTree, tempDir } from './publisher-fixture.js';

test('init --yes layout: notsotuf.json, keys/, repository/metadata and targets/, consistent snapshot names', async () => {
  const dir = await tempDir();
  const config = await initRepository(dir, { app: 'demo' });
  assert.deepEqual((await readdir(dir)).sort(), ['.notsotuf-cache', 'keys', 'notsotuf.json', 'repository']);
  assert.deepEqual((await readdir(join(dir, 'repository'))).sort(), ['metadata', 'targets']);
  assert.deepEqual((await readdir(join(dir, 'repository', 'metadata'))).sort(), [
    '1.root.json',
    '1.snapshot.json',
    '1.targets.json',
    'root.json',
    'timestamp.json',
  ]);
  const saved = JSON.parse(await readFile(join(dir, 'notsotuf.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(saved, {
    app: 'demo',
    repository: 'repository',
    keys: 'keys',
    cache: '.notsotuf-cache',
    expiry: { root: 365, targets: 90, snapshot: 7, timestamp: 1 },
  });
  assert.equal(
    (await stat(join(dir, 'keys', 'root.key'))).mode & 0o077,
    0,
    'private keys are not readable by others',
  );
  const root = JSON.parse(await readFile(join(dir, 'repository', 'metadata', 'root.json'), 'utf8')) as {
    signed: { expires: string; consistent_snapshot: boolean };
  };
  assert.match(root.signed.expires, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(root.signed.consistent_snapshot, true);
  const report = await verifyRepository(config.repository);
  assert.equal(report.ok, true, JSON.stringify(report.problems));
  await assert.rejects(initRepository(dir, { app: 'demo' }), { code: 'ALREADY_INITIALISED' });
});

test('default expiry per role: root 365 days, targets 90, snapshot 7, timestamp 1', async () => {
  const dir = await tempDir();
  const now = new Date('2026-03-01T12:00:00.789Z');
  const config = await initRepository(dir, { app: 'demo', now });
  const report = await verifyRepository(config.repository, { now });
  const expires = Object.fromEntries(report.roles.map((r) => [r.role, r.expires]));
  assert.deepEqual(expires, {
    root: '2027-03-01T12:00:00Z',
    targets: '2026-05-30T12:00:00Z',
    snapshot: '2026-03-08T12:00:00Z',
    timestamp: '2026-03-02T12:00:00Z',
  });
});

test('each change bumps the changed role and re-signs snapshot and timestamp; the patch rebuilds the new tar', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  const r1 = await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  assert.equal(r1.patch, undefined);
  const r2 = await addRelease(config, '1.0.1', await appFolder(apps, '1.0.1'), {
    required: true,
    rollout: 25,
    user: { notes: 'fix' },
  });
  assert.equal(r2.patch?.from, '1.0.0');
  const report = await verifyRepository(config.repository);
  assert.equal(report.ok, true, JSON.stringify(report.problems));
  assert.deepEqual(
    report.roles.map((r) => [r.role, r.version]),
    [
      ['root', 1],
      ['timestamp', 3],
      ['snapshot', 3],
      ['targets', 3],
    ],
  );
  const [a, b] = report.releases;
  assert.equal(a?.version, '1.0.0');
  assert.equal(b?.meta.required, true);
  assert.equal(b?.meta.rollout, 25);
  assert.deepEqual(b?.meta.user, { notes: 'fix' });
  // The patch turns the cached 1.0.0 tar into exactly the signed 1.0.1 tar.
  const patch = b?.patch;
  assert.ok(patch);
  const out = join(dir, 'rebuilt.tar');
  await applyPatch(
    publisherTarPath(config, 'demo', '1.0.0'),
    join(config.repository, 'targets', `${patch.sha256}.${patch.name}`),
    out,
  );
  const { createHash } = await import('node:crypto');
  assert.equal(
    createHash('sha256')
      .update(await readFile(out))
      .digest('hex'),
    b.meta.tar.sha256,
  );
});

test('the previous tar is rebuilt from the repository when the cache lost it (checked against the signed digest)', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  await rm(join(config.cache, 'tars'), { recursive: true });
  const r = await addRelease(config, '1.1.0', await appFolder(apps, '1.1.0'));
  assert.equal(r.patch?.from, '1.0.0');
  assert.equal((await verifyRepository(config.repository)).ok, true);
  const noPatch = await addRelease(config, '1.2.0', await appFolder(apps, '1.2.0'), { skipPatch: true });
  assert.equal(noPatch.patch, undefined);
});

test('packing the same folder twice gives the same archive bytes (two repositories, same sha256)', async () => {
  const apps = await tempDir('notsotuf-apps-');
  const folder = await appFolder(apps, '1.0.0');
  const digests = [];
  for (let i = 0; i < 2; i++) {
    const config = await initRepository(await tempDir(), { app: 'demo' });
    digests.push((await addRelease(config, '1.0.0', folder)).archive.sha256);
  }
  assert.equal(digests[0], digests[1]);
});

test('several app names live in one repository without interfering', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'myapp-linux-x64' });
  await addRelease(config, '1.0.0', await appFolder(apps, 'l1'));
  await addRelease(config, '2.0.0', await appFolder(apps, 'w2'), { app: 'myapp-win-x64' });
  // 1.5.0 is older than the win app's 2.0.0 but newer than the linux app's 1.0.0.
  const r = await addRelease(config, '1.5.0', await appFolder(apps, 'l15'));
  assert.equal(r.patch?.from, '1.0.0');
  await assert.rejects(addRelease(config, '1.9.0', await appFolder(apps, 'w19'), { app: 'myapp-win-x64' }), {
    code: 'VERSION_NOT_NEWER',
  });
  const releases = await readReleases(config);
  assert.deepEqual(
    releases.map((x) => `${x.app} ${x.version} ${x.patch?.meta.source.version ?? '-'}`),
    ['myapp-linux-x64 1.0.0 -', 'myapp-linux-x64 1.5.0 1.0.0', 'myapp-win-x64 2.0.0 -'],
  );
});

test('release remove-latest withdraws the newest release and its patch; the version can be released again', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  await addRelease(config, '1.1.0', await appFolder(apps, '1.1.0'));
  const removed = await removeLatestRelease(config);
  assert.equal(removed.removed.version, '1.1.0');
  const report = await verifyRepository(config.repository);
  assert.equal(report.ok, true);
  assert.deepEqual(
    report.releases.map((r) => r.version),
    ['1.0.0'],
  );
  await addRelease(config, '1.1.0', await appFolder(apps, '1.1.0-fixed'));
  await removeLatestRelease(config);
  await removeLatestRelease(config);
  await assert.rejects(removeLatestRelease(config), { code: 'NO_RELEASE' });
});

test('a release that crashes part way (at any rename) leaves the repository byte for byte unchanged', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  const folder = await appFolder(apps, '1.1.0');
  const order: string[] = [];
  // Dry run to learn every step, then crash at each one in turn.
  const probe = await tempDir();
  const probeConfig = await initRepository(probe, { app: 'demo' });
  await addRelease(probeConfig, '1.0.0', await appFolder(apps, '1.0.0'));
  await addRelease(probeConfig, '1.1.0', folder, { onStep: (rel) => void order.push(rel) });
  assert.deepEqual(
    // The two targets go first in either order (their names start with their hashes).
    [
      ...order
        .slice(0, 2)
        .map((rel) => rel.replace(/[0-9a-f]{64}/, 'H'))
        .sort(),
      ...order.slice(2).map((rel) => rel.replace(/^metadata\/\d+\./, 'metadata/N.')),
    ],
    [
      'targets/H.demo-1.1.0.patch',
      'targets/H.demo-1.1.0.tar.gz',
      'metadata/N.targets.json',
      'metadata/N.snapshot.json',
      'metadata/timestamp.json',
    ],
    'safe order: targets, versioned metadata, timestamp.json last',
  );
  const before = await hashTree(config.repository);
  for (let i = 0; i < order.length; i++) {
    let step = 0;
    await assert.rejects(
      addRelease(config, '1.1.0', folder, {
        onStep: () => {
          if (step++ === i) throw new Error('simulated crash');
        },
      }),
      /simulated crash/,
    );
    assert.deepEqual(await hashTree(config.repository), before, `unchanged after a crash at step ${i}`);
  }
  await addRelease(config, '1.1.0', folder);
  assert.equal((await verifyRepository(config.repository)).ok, true);
});

test('refresh re-signs what expires soon, bumping versions, and nothing else', async () => {
  const dir = await tempDir();
  const t0 = new Date('2026-06-01T00:00:00Z');
  const config = await initRepository(dir, { app: 'demo', now: t0 });
  assert.deepEqual((await refreshRepository(config, { now: t0 })).refreshed, []);
  const t1 = new Date('2026-06-01T13:00:00Z'); // timestamp (1 day) has less than half left
  assert.deepEqual(await refreshRepository(config, { now: t1 }), {
    refreshed: ['timestamp'],
    missingKeys: [],
  });
  const t2 = new Date('2026-06-05T00:00:00Z'); // snapshot (7 days) too
  assert.deepEqual((await refreshRepository(config, { now: t2 })).refreshed, ['snapshot', 'timestamp']);
  const t3 = new Date('2026-08-20T00:00:00Z'); // targets (90 days) has less than 30 days left
  assert.deepEqual((await refreshRepository(config, { now: t3 })).refreshed, [
    'targets',
    'snapshot',
    'timestamp',
  ]);
  // Root is due 30 days before it expires; with the root key offline, the rest is still re-signed.
  const t4 = new Date('2027-05-10T00:00:00Z');
  assert.equal((await verifyRepository(config.repository, { now: t4 })).ok, false, 'targets expired by then');
  await rename(join(dir, 'keys', 'root.key'), join(dir, 'root.key.offline'));
  assert.deepEqual(await refreshRepository(config, { now: t4 }), {
    refreshed: ['targets', 'snapshot', 'timestamp'],
    missingKeys: ['root'],
  });
  await rename(join(dir, 'root.key.offline'), join(dir, 'keys', 'root.key'));
  assert.deepEqual((await refreshRepository(config, { now: t4 })).refreshed, [
    'root',
    'snapshot',
    'timestamp',
  ]);
  const report = await verifyRepository(config.repository, { now: t4 });
  assert.equal(report.ok, true, JSON.stringify(report.problems));
  assert.equal(report.roles.find((r) => r.role === 'root')?.version, 2);
  // A due timestamp without its key: nothing is written, and the caller is told.
  await rm(join(dir, 'keys', 'timestamp.key'));
  const before = await hashTree(dir);
  assert.deepEqual(await refreshRepository(config, { now: new Date('2027-05-10T20:00:00Z') }), {
    refreshed: [],
    missingKeys: ['timestamp'],
  });
  assert.deepEqual(await hashTree(dir), before);
});

test('listReleases ignores targets that are not notsotuf releases', async () => {
  const dir = await tempDir();
  const config = await initRepository(dir, { app: 'demo' });
  const { loadForEdit } = await import('../../src/repo/repository-files.js');
  const state = await loadForEdit(config.repository, new Date());
  assert.deepEqual(listReleases(state.targets.signed), []);
});

test('a root.json left behind by an interrupted rotation is reported by status and fixed by the next write', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  const { createKey, replaceKey } = await import('../../src/repo/index.js');
  await createKey(config.keys, 'root-2');
  const old = await readFile(join(config.repository, 'metadata', 'root.json'));
  await replaceKey(config, 'root', 'root-2');
  // As if the process died after renaming 2.root.json but before root.json.
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(config.repository, 'metadata', 'root.json'), old);
  const report = await verifyRepository(config.repository);
  assert.deepEqual(
    report.problems.map((p) => p.kind),
    ['inconsistent'],
  );
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  assert.equal((await verifyRepository(config.repository)).ok, true);
  assert.deepEqual(
    await readFile(join(config.repository, 'metadata', 'root.json')),
    await readFile(join(config.repository, 'metadata', '2.root.json')),
  );
});

test('a release of mostly new incompressible bytes gets no patch: it would be nearly as large as the archive', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  const folder = await appFolder(apps, '1.1.0');
  await writeFile(join(folder, 'lib', 'new.bin'), randomBytes(3 << 20));
  let created = 0;
  let checked = 0;
  const counting = {
    ...DIFF_PATCH_MAKER,
    create: async (...args: Parameters<typeof DIFF_PATCH_MAKER.create>) => {
      created++;
      assert.ok(args[3] !== undefined && args[3].maxLength < 3 << 20, 'the engine is told the limit');
      return DIFF_PATCH_MAKER.create(...args);
    },
    check: async (...args: Parameters<NonNullable<typeof DIFF_PATCH_MAKER.check>>) => {
      checked++;
      return DIFF_PATCH_MAKER.check?.(...args);
    },
  };
  const r = await addRelease(config, '1.1.0', folder, { patchMaker: counting });
  assert.equal(r.patch, undefined, 'no patch is published');
  assert.equal(created, 1);
  assert.equal(checked, 0, 'a patch not made is not checked');
  const targets = await readdir(join(config.repository, 'targets'));
  assert.ok(targets.some((f) => f.endsWith('demo-1.1.0.tar.gz')));
  assert.ok(!targets.some((f) => f.endsWith('.patch')), targets.join(', '));
  assert.deepEqual(await readdir(join(config.cache)).then((f) => f.filter((n) => n.startsWith('work-'))), []);
  assert.equal((await verifyRepository(config.repository)).ok, true);
  // The next release of these files gets its (small) patch as usual.
  const r2 = await addRelease(config, '1.2.0', folder, { patchMaker: counting });
  assert.equal(r2.patch?.from, '1.1.0');
  assert.equal(checked, 1);
});

test('createPatch with a maxLength it cannot keep gives PATCH_TOO_LARGE and writes nothing', async () => {
  const dir = await tempDir();
  const old = join(dir, 'old');
  const nu = join(dir, 'new');
  await writeFile(old, randomBytes(1 << 20));
  await writeFile(nu, randomBytes(4 << 20));
  await assert.rejects(createPatch(old, nu, join(dir, 'patch'), { maxLength: 1 << 20 }), {
    name: 'DataError',
    code: 'PATCH_TOO_LARGE',
  });
  assert.deepEqual((await readdir(dir)).sort(), ['new', 'old']);
  const made = await createPatch(old, nu, join(dir, 'patch'), { maxLength: 5 << 20 });
  assert.ok(made.patchLength <= 5 << 20);
});

test('a patch that does not rebuild the new tar is caught before signing; the repository is unchanged', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  const { DIFF_PATCH_MAKER } = await import('../../src/repo/index.js');
  const { open } = await import('node:fs/promises');
  const corrupting = {
    ...DIFF_PATCH_MAKER,
    async create(oldTar: string, newTar: string, patchPath: string) {
      const made = await DIFF_PATCH_MAKER.create(oldTar, newTar, patchPath);
      const fh = await open(patchPath, 'r+');
      const { size } = await fh.stat();
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      last[0] = (last[0] ?? 0) ^ 0xff;
      await fh.write(last, 0, 1, size - 1);
      await fh.close();
      return made;
    },
  };
  const before = await hashTree(config.repository);
  const folder = await appFolder(apps, '1.1.0');
  await assert.rejects(addRelease(config, '1.1.0', folder, { patchMaker: corrupting }), {
    code: 'PATCH_CHECK_FAILED',
  });
  const lying = {
    ...DIFF_PATCH_MAKER,
    create: async (o: string, n: string, p: string) => {
      const made = await DIFF_PATCH_MAKER.create(o, n, p);
      assert.ok(made !== undefined, 'no limit was given: the patch is made');
      return { ...made, result: { sha256: '0'.repeat(64), length: 1 } };
    },
  };
  await assert.rejects(addRelease(config, '1.1.0', folder, { patchMaker: lying }), {
    code: 'PATCH_MISMATCH',
  });
  assert.deepEqual(await hashTree(config.repository), before);
  await addRelease(config, '1.1.0', folder);
});

test('init reuses keys of the same role names already in the key folder (several repositories, one set of keys)', async () => {
  const dir = await tempDir();
  const a = await initRepository(join(dir, 'a'), { app: 'one', keys: '../keys' });
  const b = await initRepository(join(dir, 'b'), { app: 'two', keys: '../keys' });
  assert.equal(a.keys, b.keys);
  const ra = await verifyRepository(a.repository);
  const rb = await verifyRepository(b.repository);
  assert.deepEqual(
    ra.roles.map((r) => r.keyIDs),
    rb.roles.map((r) => r.keyIDs),
  );
  const saved = JSON.parse(await readFile(join(dir, 'b', 'notsotuf.json'), 'utf8')) as { keys: string };
  assert.equal(saved.keys, '../keys');
});

test('refresh from cron never asks for the passphrase of a key it does not need (encrypted offline root)', async () => {
  const dir = await tempDir();
  const t0 = new Date('2026-06-01T00:00:00Z');
  const config = await initRepository(dir, {
    app: 'demo',
    now: t0,
    passphrase: (name) => (name === 'root' ? 'root secret' : undefined),
  });
  const asked: string[] = [];
  const passphrase = (name: string): Promise<string | undefined> => {
    asked.push(name);
    return Promise.resolve(undefined);
  };
  const r = await refreshRepository(config, { now: new Date('2026-06-05T00:00:00Z'), passphrase });
  assert.deepEqual(r, { refreshed: ['snapshot', 'timestamp'], missingKeys: [] });
  assert.deepEqual(asked, []);
});
