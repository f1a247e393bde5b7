// Migrating from tufup, end to end with the real tufup 0.10.0 (docs/migrating.md): version 1 of an
// app updates itself with tufup's client from a repository made with tufup's own tools; version 2,
// the bridge, is published there as usual and carries the notsotuf client (the Python front end
// and a stand-in for the client executable), notsotuf's root.json and update.json; tufup in the
// field installs version 2; version 2 updates itself to version 3 from the notsotuf repository.
// The tufup repository stays: a straggler still on version 1 takes the same road later.
import assert from 'node:assert/strict';
import { chmod, copyFile, cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { serveRepository } from '../../src/repo/index.js';
import type { RunningServer } from '../../src/repo/index.js';
import { CLI_COMMAND, ROOT, cli } from '../helpers/cli.js';
import { pythonVenv } from '../helpers/python.js';
import { hashTree, tempDir } from '../repo/publisher-fixture.js';
import { runProcess } from '../support/processes.js';

const py = pythonVenv('tufup');
const HERE = fileURLToPath(new URL('./tufup/', import.meta.url));

function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<{ code: number | null; out: string }> {
  return runProcess(command, args, {
    cwd: options.cwd,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...options.env },
  }).then(({ code, output }) => ({ code, out: output }));
}

/** A shell script that runs the notsotuf CLI: the stand-in for the client executable. */
async function clientWrapper(dir: string): Promise<string> {
  const path = join(dir, 'notsotuf-client');
  const quoted = CLI_COMMAND.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
  await writeFile(path, `#!/bin/sh\nexec ${quoted} "$@"\n`);
  await chmod(path, 0o755);
  return path;
}

async function dataFile(dir: string, version: string): Promise<void> {
  const lines = Array.from({ length: 2000 }, (_, i) => `record ${i} ${i % 7 === 0 ? version : 'same'}`);
  await writeFile(join(dir, 'data.txt'), `${lines.join('\n')}\n`);
}

test(
  'tufup v1 updates to the bridge v2 from the tufup repository; v2 updates to v3 from notsotuf; stragglers follow',
  { skip: py.skip, timeout: 600_000 },
  async () => {
    const dir = await tempDir('notsotuf-tufup-');
    const tufup = (args: string[]) =>
      run(
        py.python!,
        [
          join(HERE, 'publish.py'),
          '--repo',
          join(dir, 'tufup', 'repository'),
          '--keys',
          join(dir, 'tufup', 'keystore'),
          '--app',
          'demo',
          ...args,
        ],
        {
          cwd: join(dir, 'tufup'),
        },
      );
    // The existing tufup repository and the new notsotuf project, each served over HTTP.
    await mkdir(join(dir, 'tufup'));
    const init = await tufup(['init']);
    assert.equal(init.code, 0, init.out);
    await mkdir(join(dir, 'notsotuf'));
    assert.equal((await cli(['init', '--yes', '--app', 'demo'], { cwd: join(dir, 'notsotuf') })).code, 0);
    const servers: RunningServer[] = [];
    try {
      const tufupServer = await serveRepository({ root: join(dir, 'tufup', 'repository') });
      servers.push(tufupServer);
      const nsServer = await serveRepository({ root: join(dir, 'notsotuf', 'repository') });
      servers.push(nsServer);

      // Version 1: the app as shipped today, with tufup's client and tufup's root.json.
      const v1 = join(dir, 'build', '1.0.0');
      await mkdir(v1, { recursive: true });
      await copyFile(join(HERE, 'app_v1.py'), join(v1, 'app.py'));
      await writeFile(join(v1, 'version.txt'), '1.0.0\n');
      await copyFile(join(dir, 'tufup', 'repository', 'metadata', 'root.json'), join(v1, 'root.json'));
      await writeFile(
        join(v1, 'tufup.json'),
        JSON.stringify({
          app: 'demo',
          metadataUrl: `${tufupServer.url}/metadata/`,
          targetsUrl: `${tufupServer.url}/targets/`,
          stateDir: '../demo.tufup-state',
        }),
      );
      await dataFile(v1, '1.0.0');
      const added1 = await tufup(['add', '1.0.0', v1]);
      assert.equal(added1.code, 0, added1.out);

      // Versions 2 (the bridge) and 3: the notsotuf client, its root.json and update.json.
      const bridge = async (version: string): Promise<string> => {
        const b = join(dir, 'build', version);
        await mkdir(b, { recursive: true });
        await copyFile(join(HERE, 'app_bridge.py'), join(b, 'app.py'));
        await writeFile(join(b, 'version.txt'), `${version}\n`);
        await cp(join(ROOT, 'python', 'src', 'notsotuf_client'), join(b, 'notsotuf_client'), {
          recursive: true,
        });
        await copyFile(join(dir, 'notsotuf', 'repository', 'metadata', '1.root.json'), join(b, 'root.json'));
        await writeFile(
          join(b, 'update.json'),
          JSON.stringify({
            appName: 'demo',
            installDir: '.',
            metadataUrl: `${nsServer.url}/metadata`,
            targetsUrl: `${nsServer.url}/targets`,
            trustedRoot: 'root.json',
          }),
        );
        await dataFile(b, version);
        return b;
      };
      const v2 = await bridge('2.0.0');
      // The bridge goes out through tufup as usual (archive and bsdiff4 patch) ...
      const added2 = await tufup(['add', '2.0.0', v2]);
      assert.equal(added2.code, 0, added2.out);
      assert.ok((JSON.parse(added2.out.trim().split('\n').pop()!) as { patch: string | null }).patch);
      // ... and into the notsotuf repository, so notsotuf recognises it and patches from it.
      const ns = (args: string[]) => cli(args, { cwd: join(dir, 'notsotuf') });
      assert.equal((await ns(['release', 'add', '2.0.0', v2])).code, 0);
      const v3 = await bridge('3.0.0');
      assert.equal((await ns(['release', 'add', '3.0.0', v3])).code, 0);

      // A user on version 1, with tufup's cached archive (so tufup updates by patch).
      const apps = join(dir, 'apps');
      const installDir = join(apps, 'demo');
      await cp(v1, installDir, { recursive: true });
      await mkdir(join(apps, 'demo.tufup-state', 'targets'), { recursive: true });
      await copyFile(
        join(dir, 'tufup', 'repository', 'targets', 'demo-1.0.0.tar.gz'),
        join(apps, 'demo.tufup-state', 'targets', 'demo-1.0.0.tar.gz'),
      );
      const env = { NOTSOTUF_CLIENT: await clientWrapper(dir) };
      const start = () => run(py.python!, [join(installDir, 'app.py')], { cwd: apps, env });

      const first = await start();
      assert.equal(first.code, 0, first.out);
      assert.match(first.out, /demo 1\.0\.0 \(tufup client\)/);
      assert.match(first.out, /update 2\.0\.0 by patches: demo-2\.0\.0\.patch/);
      assert.match(first.out, /installed 2\.0\.0/);
      assert.deepEqual(
        await hashFolderAsTar(installDir),
        await hashFolderAsTar(v2),
        'tufup installed v2 exactly',
      );

      const second = await start();
      assert.equal(second.code, 0, second.out);
      assert.match(second.out, /demo 2\.0\.0 \(notsotuf client\)/);
      assert.match(second.out, /update 3\.0\.0 by patches/);
      assert.match(second.out, /installed 3\.0\.0/);
      assert.deepEqual(
        await hashFolderAsTar(installDir),
        await hashFolderAsTar(v3),
        'notsotuf installed v3 exactly',
      );

      const third = await start();
      assert.equal(third.code, 0, third.out);
      assert.match(third.out, /demo 3\.0\.0 \(notsotuf client\)\nno update/);

      // A straggler still on version 1 (no cached archive: tufup takes the full archive of v2).
      const late = join(apps, 'late');
      await cp(v1, late, { recursive: true });
      await writeFile(
        join(late, 'tufup.json'),
        (await readFile(join(v1, 'tufup.json'), 'utf8')).replace('demo.tufup-state', 'late.tufup-state'),
      );
      const lateStart = () => run(py.python!, [join(late, 'app.py')], { cwd: apps, env });
      const l1 = await lateStart();
      assert.equal(l1.code, 0, l1.out);
      assert.match(l1.out, /update 2\.0\.0 by archive: demo-2\.0\.0\.tar\.gz/);
      const l2 = await lateStart();
      assert.equal(l2.code, 0, l2.out);
      assert.match(l2.out, /demo 2\.0\.0 \(notsotuf client\)[\s\S]*installed 3\.0\.0/);
      assert.deepEqual(await hashFolderAsTar(late), await hashFolderAsTar(v3));
      // Each install keeps its own state beside it; nothing else was left in the apps folder.
      assert.deepEqual((await readdir(apps)).sort(), [
        'demo',
        'demo.notsotuf-state',
        'demo.tufup-state',
        'late',
        'late.notsotuf-state',
        'late.tufup-state',
      ]);
    } finally {
      for (const s of servers) await s.close();
    }
  },
);

test(
  '`notsotuf tufup bridge` publishes the bridge into the tufup repository with its keys; tufup installs it; tufup tools still work',
  { skip: py.skip, timeout: 600_000 },
  async () => {
    const dir = await tempDir('notsotuf-tufup-bridge-');
    const tufupHome = join(dir, 'tufup');
    const tufupRepo = join(tufupHome, 'repository');
    const keystore = join(tufupHome, 'keystore');
    const tufup = (args: string[]) =>
      run(
        py.python!,
        [join(HERE, 'publish.py'), '--repo', tufupRepo, '--keys', keystore, '--app', 'demo', ...args],
        {
          cwd: tufupHome,
        },
      );
    await mkdir(tufupHome);
    assert.equal((await tufup(['init'])).code, 0);
    await mkdir(join(dir, 'notsotuf'));
    const ns = (args: string[]) => cli(args, { cwd: join(dir, 'notsotuf') });
    assert.equal((await ns(['init', '--yes', '--app', 'demo'])).code, 0);
    const servers: RunningServer[] = [];
    try {
      const tufupServer = await serveRepository({ root: tufupRepo });
      servers.push(tufupServer);
      const nsServer = await serveRepository({ root: join(dir, 'notsotuf', 'repository') });
      servers.push(nsServer);
      const v1 = join(dir, 'build', '1.0.0');
      await mkdir(v1, { recursive: true });
      await copyFile(join(HERE, 'app_v1.py'), join(v1, 'app.py'));
      await writeFile(join(v1, 'version.txt'), '1.0.0\n');
      await copyFile(join(tufupRepo, 'metadata', 'root.json'), join(v1, 'root.json'));
      await writeFile(
        join(v1, 'tufup.json'),
        JSON.stringify({
          app: 'demo',
          metadataUrl: `${tufupServer.url}/metadata/`,
          targetsUrl: `${tufupServer.url}/targets/`,
          stateDir: '../demo.tufup-state',
        }),
      );
      await dataFile(v1, '1.0.0');
      assert.equal((await tufup(['add', '1.0.0', v1])).code, 0);
      const bridge = async (version: string): Promise<string> => {
        const b = join(dir, 'build', version);
        await mkdir(b, { recursive: true });
        await copyFile(join(HERE, 'app_bridge.py'), join(b, 'app.py'));
        await writeFile(join(b, 'version.txt'), `${version}\n`);
        await cp(join(ROOT, 'python', 'src', 'notsotuf_client'), join(b, 'notsotuf_client'), {
          recursive: true,
        });
        await copyFile(join(dir, 'notsotuf', 'repository', 'metadata', '1.root.json'), join(b, 'root.json'));
        await writeFile(
          join(b, 'update.json'),
          JSON.stringify({
            appName: 'demo',
            installDir: '.',
            metadataUrl: `${nsServer.url}/metadata`,
            targetsUrl: `${nsServer.url}/targets`,
            trustedRoot: 'root.json',
          }),
        );
        await dataFile(b, version);
        return b;
      };
      const v2 = await bridge('2.0.0');
      const bridgeArgs = ['tufup', 'bridge', '2.0.0', v2, '--app', 'demo', '--tufup-repo', tufupRepo];

      // Refused, and the tufup repository untouched: no keys, or a version that is not newer.
      const before = await hashTree(tufupRepo);
      const emptyKeys = join(dir, 'no-keys');
      await mkdir(emptyKeys);
      const noKeys = await ns([...bridgeArgs, '--tufup-keys', emptyKeys]);
      assert.equal(noKeys.code, 2, noKeys.stderr);
      assert.match(noKeys.stderr, /targets needs 1 signature\(s\) but only 0 of its keys/);
      const old = await ns([
        'tufup',
        'bridge',
        '1.0.0',
        v2,
        '--app',
        'demo',
        '--tufup-repo',
        tufupRepo,
        '--tufup-keys',
        keystore,
      ]);
      assert.equal(old.code, 2, old.stderr);
      assert.match(old.stderr, /not newer than 1\.0\.0/);
      assert.deepEqual(await hashTree(tufupRepo), before, 'the tufup repository is unchanged');

      const published = await ns([...bridgeArgs, '--tufup-keys', keystore]);
      assert.equal(published.code, 0, published.stderr);
      assert.match(published.stdout, /full archive/);
      assert.ok(!(await readdir(join(tufupRepo, 'targets'))).includes('demo-2.0.0.patch'));
      assert.equal((await ns(['release', 'add', '2.0.0', v2])).code, 0);
      const v3 = await bridge('3.0.0');
      assert.equal((await ns(['release', 'add', '3.0.0', v3])).code, 0);

      // tufup in the field (with its cached 1.0.0 archive) takes the full archive of 2.0.0.
      const apps = join(dir, 'apps');
      const installDir = join(apps, 'demo');
      await cp(v1, installDir, { recursive: true });
      await mkdir(join(apps, 'demo.tufup-state', 'targets'), { recursive: true });
      await copyFile(
        join(tufupRepo, 'targets', 'demo-1.0.0.tar.gz'),
        join(apps, 'demo.tufup-state', 'targets', 'demo-1.0.0.tar.gz'),
      );
      const env = { NOTSOTUF_CLIENT: await clientWrapper(dir) };
      const start = () => run(py.python!, [join(installDir, 'app.py')], { cwd: apps, env });
      const first = await start();
      assert.equal(first.code, 0, first.out);
      assert.match(first.out, /update 2\.0\.0 by archive: demo-2\.0\.0\.tar\.gz/);
      assert.deepEqual(await hashFolderAsTar(installDir), await hashFolderAsTar(v2));
      const second = await start();
      assert.equal(second.code, 0, second.out);
      assert.match(
        second.out,
        /demo 2\.0\.0 \(notsotuf client\)[\s\S]*update 3\.0\.0 by patches[\s\S]*installed 3\.0\.0/,
      );
      assert.deepEqual(await hashFolderAsTar(installDir), await hashFolderAsTar(v3));

      // tufup's own tools still load and re-sign the repository notsotuf wrote into.
      const resign = await run(py.python!, ['-m', 'tufup', 'sign', 'timestamp', '-e', '2', keystore], {
        cwd: tufupHome,
      });
      assert.equal(resign.code, 0, resign.out);
      const late = join(apps, 'late');
      await cp(v1, late, { recursive: true });
      await writeFile(
        join(late, 'tufup.json'),
        (await readFile(join(v1, 'tufup.json'), 'utf8')).replace('demo.tufup-state', 'late.tufup-state'),
      );
      const l1 = await run(py.python!, [join(late, 'app.py')], { cwd: apps, env });
      assert.equal(l1.code, 0, l1.out);
      assert.match(l1.out, /installed 2\.0\.0/);
      assert.deepEqual(await hashFolderAsTar(late), await hashFolderAsTar(v2));
    } finally {
      for (const s of servers) await s.close();
    }
  },
);
