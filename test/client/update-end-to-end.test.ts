import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { hashFolderAsTar, unpackArchive } from '../../src/archive/index.js';
import { Client } from '../../src/client/client.js';
import { publisherTarPath } from '../../src/repo/release.js';
import { nginxMissing, startNginx } from '../helpers/nginx.js';
import type { Project } from '../support/fixture.js';
import {
  clientOptions,
  installVersion,
  makeProject,
  readLog,
  runApp,
  waitFor,
  waitForResult,
} from '../support/fixture.js';
import { startTestServer } from '../support/test-server.js';
import { skipUnlessTool } from '../helpers/skip.js';

/**
 * End to end, all real: releases 1.0, 1.1, 1.2 of a small Node app published by our publisher,
 * served over HTTP on 127.0.0.1 (Node's server and nginx), 1.0 installed in a temp folder and run
 * as a process; it checks, downloads the two patches, rebuilds 1.2, stages it, starts the installer
 * and quits; the installer swaps the folders and restarts the app; 1.2 runs and confirms.
 */

let project: Project;

before(async () => {
  project = await makeProject();
  await project.publish('1.0.0');
  await project.publish('1.1.0');
  await project.publish('1.2.0');
});

after(async () => {
  await project.cleanup();
});

interface Scenario {
  baseUrl: string;
  /** Paths and body bytes of target downloads the server saw. */
  targetRequests: () => Promise<{ path: string; bytes: number }[]>;
  seedCache: boolean;
}

async function updateThroughTwoPatches(name: string, s: Scenario): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), `notsotuf-e2e-${name}-`));
  try {
    const installDir = join(root, 'apps', 'demo app');
    const stateDir = join(root, 'state');
    await mkdir(dirname(installDir), { recursive: true });
    await installVersion(project, '1.0.0', installDir);
    if (s.seedCache) {
      await mkdir(join(stateDir, 'tars'), { recursive: true });
      await copyFile(publisherTarPath(project.config, 'demo', '1.0.0'), join(stateDir, 'tars', '1.0.0.tar'));
    }
    const log = join(root, 'app.log');
    const settings = join(root, 'settings.json');
    const options = clientOptions(project, s.baseUrl, installDir, stateDir);
    await writeFile(settings, JSON.stringify({ log, client: options }));

    const args = ['--flag', 'two words', 'quote"d'];
    const first = await runApp(installDir, settings, args);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /demo 1\.0\.0/);
    const lines = await waitFor('1.2.0 to run and finish its check', async () => {
      const l = await readLog(log);
      return l.some((x) => x.startsWith('done 1.2.0') || x.startsWith('error')) ? l : undefined;
    });
    assert.ok(!lines.some((l) => l.startsWith('error')), lines.join('\n'));
    const result = await waitForResult(stateDir);
    assert.deepEqual(result, { outcome: 'installed', version: '1.2.0', previousVersion: '1.0.0' });

    // Through the two patches, and only they were downloaded, whole.
    const [p11, p12] = [project.releases[1]?.result.patch, project.releases[2]?.result.patch];
    assert.ok(p11 && p12);
    const patchBytes = p11.length + p12.length;
    assert.ok(lines.includes(`update 1.0.0 -> 1.2.0 patches ${patchBytes}`), lines.join('\n'));
    assert.ok(lines.includes('staged 1.2.0 via patches'), lines.join('\n'));
    const targets = await s.targetRequests();
    assert.deepEqual(targets.map((t) => basename(t.path).replace(/^[0-9a-f]{64}\./, '')).sort(), [
      'demo-1.1.0.patch',
      'demo-1.2.0.patch',
    ]);
    assert.equal(
      targets.reduce((sum, t) => sum + t.bytes, 0),
      patchBytes,
    );
    // Restarted by the installer with the original arguments.
    assert.ok(lines.includes(`run 1.2.0 handover=1 args=${JSON.stringify(args)}`), lines.join('\n'));

    // The installed folder equals a fresh unpack of 1.2 (and the tar the publisher signed).
    const fresh = join(root, 'fresh');
    const r12 = project.releases[2]!.result;
    await unpackArchive(project.targetFile(r12.archive.name, r12.archive.sha256), fresh);
    const installed = await hashFolderAsTar(installDir);
    assert.deepEqual(installed, await hashFolderAsTar(fresh));
    assert.deepEqual(installed, r12.tar);

    // The next start settles: only what the next update needs is kept.
    const next = new Client({ ...options, currentVersion: '1.2.0' });
    assert.deepEqual(await next.check(), { kind: 'none' });
    assert.deepEqual(next.lastHandover, result, 'the next start reads the installer result');
    assert.deepEqual(await readdir(join(stateDir, 'tars')), ['1.2.0.tar']);
    const state = await readdir(stateDir);
    assert.ok(!state.includes('downloads') && !state.includes('work'), state.join(','));
    assert.deepEqual(
      (await readdir(dirname(installDir))).sort(),
      ['demo app'],
      'no staging or backup folders left beside the app',
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** The update over a TestServer, the target requests read from its log. */
async function overTestServer(name: string, seedCache: boolean): Promise<void> {
  const server = await startTestServer({ root: project.config.repository });
  try {
    await updateThroughTwoPatches(name, {
      baseUrl: server.url,
      seedCache,
      targetRequests: () =>
        Promise.resolve(
          server.log
            .filter((r) => r.path.startsWith('/targets/'))
            .map((r) => ({ path: r.path, bytes: r.bytes })),
        ),
    });
  } finally {
    await server.close();
  }
}

test('1.0 updates itself to 1.2 through two patches over Node HTTP (cached tar), restarts, 1.2 confirms', async () => {
  await overTestServer('node', true);
});

test('fresh install with no cache: rebuilds the 1.0 tar from the install folder and patches from it', async () => {
  await overTestServer('fresh', false);
});

test('the same update served by nginx', { skip: skipUnlessTool(nginxMissing()) }, async () => {
  const nginx = await startNginx(project.config.repository);
  try {
    await updateThroughTwoPatches('nginx', {
      baseUrl: nginx.url,
      seedCache: false,
      targetRequests: async () =>
        (await nginx.accessLog())
          .map((l) => /^GET (\/targets\/\S+) HTTP\/[\d.]+ "[^"]*" (\d+) (\d+)$/.exec(l))
          .filter((m): m is RegExpExecArray => m !== null)
          .map((m) => ({ path: m[1] ?? '', bytes: Number(m[3]) })),
    });
  } finally {
    await nginx.stop();
  }
});
