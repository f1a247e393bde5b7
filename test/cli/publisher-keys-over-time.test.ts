import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Updater } from 'tuf-js';
import { serveRepository } from '../../src/repo/index.js';
import { cli } from '../helpers/cli.js';
import { appFolder, tempDir } from '../repo/publisher-fixture.js';

/** A tuf-js client that trusts only 1.root.json, refreshing against `repo` over HTTP. */
async function freshClient(
  dir: string,
  repo: string,
): Promise<{ refresh(): Promise<number>; close(): Promise<void> }> {
  const server = await serveRepository({ root: repo });
  const clientDir = await import('node:fs/promises').then((fs) => fs.mkdtemp(join(dir, 'client-')));
  await copyFile(join(repo, 'metadata', '1.root.json'), join(clientDir, 'root.json'));
  return {
    async refresh() {
      const updater = new Updater({
        metadataDir: clientDir,
        metadataBaseUrl: `${server.url}/metadata`,
        targetBaseUrl: `${server.url}/targets`,
      });
      await updater.refresh();
      const trusted = JSON.parse(await readFile(join(clientDir, 'root.json'), 'utf8')) as {
        signed: { version: number };
      };
      return trusted.signed.version;
    },
    close: () => server.close(),
  };
}

test('after keys replace on root, a client trusting only 1.root.json follows the chain; a root below threshold is refused', async () => {
  const dir = await tempDir();
  assert.equal((await cli(['init', '--yes', '--app', 'demo'], { cwd: dir })).code, 0);
  assert.equal((await cli(['release', 'add', '1.0.0', await appFolder(dir, '1.0.0')], { cwd: dir })).code, 0);
  const repo = join(dir, 'repository');

  // Rotate the root key: 2.root.json is signed by the old and the new root key.
  assert.equal((await cli(['keys', 'new', 'root-2026'], { cwd: dir })).code, 0);
  const replaced = await cli(['keys', 'replace', 'root', 'root-2026', '--role', 'root'], { cwd: dir });
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.match(replaced.stdout, /root is now version 2/);
  const root2 = JSON.parse(await readFile(join(repo, 'metadata', '2.root.json'), 'utf8')) as {
    signatures: { keyid: string }[];
  };
  assert.equal(root2.signatures.length, 2, 'signed by the old and the new root key');
  assert.equal((await cli(['status'], { cwd: dir })).code, 0);
  // Releases keep working after the rotation (old root key no longer needed).
  assert.equal((await cli(['release', 'add', '1.1.0', await appFolder(dir, '1.1.0')], { cwd: dir })).code, 0);

  const client = await freshClient(dir, repo);
  try {
    assert.equal(await client.refresh(), 2);

    // Now a root that needs 2 of 2 root keys, with only one at hand: 3.root.json has 1 of 2.
    const bDir = join(dir, 'person-b-keys');
    await mkdir(bDir);
    assert.equal((await cli(['keys', 'new', 'root-b', '--keys', bDir], { cwd: dir })).code, 0);
    await copyFile(join(bDir, 'root-b.pub.json'), join(dir, 'keys', 'root-b.pub.json'));
    const add = await cli(['keys', 'add', 'root', 'root-b', '--threshold', '2'], { cwd: dir });
    assert.equal(add.code, 0, add.stderr);
    const status = await cli(['status'], { cwd: dir });
    assert.equal(status.code, 1);
    assert.match(status.stdout, /root\s+v3.*1\/2 signatures \(1 missing\)/);
    assert.match(status.stderr, /root version 3 has 1 of 2 required signatures: 1 missing/);
    // publish refuses what clients would refuse.
    const pub = await cli(['publish', join(dir, 'public')], { cwd: dir });
    assert.equal(pub.code, 1);
    assert.match(pub.stderr, /does not verify, nothing was published/);

    const c2 = await freshClient(dir, repo);
    try {
      await assert.rejects(c2.refresh(), /root was signed by 1\/2 keys/);
    } finally {
      await c2.close();
    }

    // Person B signs on their machine: the root is complete and clients accept it.
    const signed = await cli(['sign', 'root', '--keys', bDir], { cwd: dir });
    assert.equal(signed.code, 0, signed.stderr);
    assert.match(signed.stdout, /root now has 2 of 2 signatures: valid/);
    assert.equal((await cli(['status'], { cwd: dir })).code, 0);
    assert.equal(await client.refresh(), 3);
  } finally {
    await client.close();
  }
});

test('targets with threshold 3: not valid after release add and one sign (status says how many are missing), valid after the second sign', async () => {
  const dir = await tempDir();
  assert.equal((await cli(['init', '--yes', '--app', 'demo'], { cwd: dir })).code, 0);
  const bDir = join(dir, 'b-keys');
  const cDir = join(dir, 'c-keys');
  await mkdir(bDir);
  await mkdir(cDir);
  for (const [name, kd] of [
    ['targets-b', bDir],
    ['targets-c', cDir],
  ] as const) {
    assert.equal((await cli(['keys', 'new', name, '--keys', kd], { cwd: dir })).code, 0);
    await copyFile(join(kd, `${name}.pub.json`), join(dir, 'keys', `${name}.pub.json`));
  }
  assert.equal((await cli(['keys', 'add', 'targets', 'targets-b'], { cwd: dir })).code, 0);
  const add = await cli(['keys', 'add', 'targets', 'targets-c', '--threshold', '3'], { cwd: dir });
  assert.equal(add.code, 0, add.stderr);
  // A release signed here carries 1 of 3 targets signatures.
  assert.equal((await cli(['release', 'add', '1.0.0', await appFolder(dir, '1.0.0')], { cwd: dir })).code, 0);
  let status = await cli(['status'], { cwd: dir });
  assert.equal(status.code, 1);
  assert.match(status.stdout, /targets\s+v\d+.*1\/3 signatures \(2 missing\)/);

  const one = await cli(['sign', 'targets', '--keys', bDir], { cwd: dir });
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /targets has 2 of 3 signatures: 1 missing/);
  status = await cli(['status'], { cwd: dir });
  assert.equal(status.code, 1, 'not valid after one sign');
  assert.match(status.stderr, /targets version \d+ has 2 of 3 required signatures: 1 missing/);

  const again = await cli(['sign', 'targets', '--keys', bDir], { cwd: dir });
  assert.equal(again.code, 2, 'the same key cannot count twice');
  assert.match(again.stderr, /already signed/);

  const two = await cli(['sign', 'targets', '--keys', cDir], { cwd: dir });
  assert.equal(two.code, 0, two.stderr);
  status = await cli(['status'], { cwd: dir });
  assert.equal(status.code, 0, status.stdout + status.stderr);
});

test('targets with threshold 2: one signature is not enough (status: 1 missing); valid after sign by the second key', async () => {
  const dir = await tempDir();
  assert.equal((await cli(['init', '--yes', '--app', 'demo'], { cwd: dir })).code, 0);
  const bDir = join(dir, 'b-keys');
  await mkdir(bDir);
  assert.equal((await cli(['keys', 'new', 'targets-b', '--keys', bDir], { cwd: dir })).code, 0);
  await copyFile(join(bDir, 'targets-b.pub.json'), join(dir, 'keys', 'targets-b.pub.json'));
  const added = await cli(['keys', 'add', 'targets', 'targets-b', '--threshold', '2'], { cwd: dir });
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /note: targets version 2 has 1 of 2 required signatures: 1 missing/);
  const status = await cli(['status'], { cwd: dir });
  assert.equal(status.code, 1);
  assert.match(status.stdout, /targets\s+v2\s+.*1\/2 signatures \(1 missing\)/);
  const before = await freshClient(dir, join(dir, 'repository'));
  try {
    await assert.rejects(before.refresh(), /targets was signed by 1\/2 keys/);
  } finally {
    await before.close();
  }
  const signed = await cli(['sign', 'targets', '--keys', bDir], { cwd: dir });
  assert.equal(signed.code, 0, signed.stderr);
  assert.equal((await cli(['status'], { cwd: dir })).code, 0);
  const after = await freshClient(dir, join(dir, 'repository'));
  try {
    assert.equal(await after.refresh(), 2);
  } finally {
    await after.close();
  }
});

test('keys list shows each key, whether its private part is here, and the roles that list it; status --json', async () => {
  const dir = await tempDir();
  assert.equal((await cli(['init', '--yes', '--app', 'demo'], { cwd: dir })).code, 0);
  const other = join(dir, 'other');
  await mkdir(other);
  assert.equal((await cli(['keys', 'new', 'helper', '--keys', other], { cwd: dir })).code, 0);
  await copyFile(join(other, 'helper.pub.json'), join(dir, 'keys', 'helper.pub.json'));
  assert.equal((await cli(['keys', 'add', 'snapshot', 'helper'], { cwd: dir })).code, 0);
  const list = await cli(['keys', 'list'], { cwd: dir });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^helper\s+[0-9a-f]{16}\s+public only\s+signs snapshot$/m);
  assert.match(list.stdout, /^root\s+[0-9a-f]{16}\s+private\s+signs root$/m);
  const json = await cli(['status', '--json'], { cwd: dir });
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as {
    ok: boolean;
    roles: { role: string; keyIDs: string[]; threshold: number }[];
  };
  assert.equal(report.ok, true);
  assert.equal(report.roles.find((r) => r.role === 'snapshot')?.keyIDs.length, 2);
});
