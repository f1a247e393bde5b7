import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { Client } from '../../src/client/client.js';
import { readState } from '../../src/client/state.js';
import { stateLayout } from '../../src/client/state-layout.js';
import { clientOptions, installVersion, makeProject, readLog, runApp, waitFor } from '../support/fixture.js';
import { startTestServer } from '../support/test-server.js';

test('a new version that crashes at start is rolled back; the old one runs again and the bad release is skipped', async () => {
  const project = await makeProject();
  const server = await startTestServer({ root: project.config.repository });
  const root = await mkdtemp(join(tmpdir(), 'notsotuf-rollback-'));
  try {
    await project.publish('1.0.0');
    await project.publish('1.1.0', { crash: true });
    const installDir = join(root, 'apps', 'demo');
    const stateDir = join(root, 'state');
    await mkdir(dirname(installDir), { recursive: true });
    await installVersion(project, '1.0.0', installDir);
    const log = join(root, 'app.log');
    const settings = join(root, 'settings.json');
    const options = clientOptions(project, server.url, installDir, stateDir);
    await writeFile(settings, JSON.stringify({ log, client: options }));

    const first = await runApp(installDir, settings);
    assert.equal(first.code, 0, first.stderr);
    const lines = await waitFor('1.0.0 to run again', async () => {
      const l = await readLog(log);
      return l.some((x) => x.startsWith('done 1.0.0')) ? l : undefined;
    });
    assert.deepEqual(
      lines.map((l) => l.split(' ').slice(0, 2).join(' ')),
      [
        'run 1.0.0',
        'update 1.0.0',
        'staged 1.1.0',
        'quit 1.0.0',
        'run 1.1.0',
        'crash 1.1.0',
        'run 1.0.0',
        'done 1.0.0',
      ],
    );
    // The old version is back, byte for byte.
    assert.deepEqual(await hashFolderAsTar(installDir), project.releases[0]?.result.tar);

    // The next start records the roll back, never offers 1.1.0 again, and cleans up.
    // The installer's result is read by whichever start comes first after it is written: the
    // restarted 1.0.0 (it logs it) or this one.
    const next = new Client(options);
    assert.deepEqual(await next.check(), { kind: 'none' });
    const seenByApp = /last=(\S+)/.exec(lines.find((l) => l.startsWith('done 1.0.0')) ?? '')?.[1];
    const outcome = next.lastHandover?.outcome ?? seenByApp;
    assert.equal(outcome, 'rolled-back');
    if (next.lastHandover !== undefined) assert.equal(next.lastHandover.version, '1.1.0');
    assert.deepEqual((await readState(stateLayout(stateDir))).skipped, ['1.1.0']);
    assert.deepEqual(await readdir(join(stateDir, 'tars')), ['1.0.0.tar']);
    assert.deepEqual(await readdir(dirname(installDir)), ['demo']);

    // A later good release is offered (its patch chain may pass through the bad one's tar).
    await project.publish('1.2.0');
    const later = await new Client(options).check();
    assert.equal(later.kind === 'none' ? 'none' : later.version, '1.2.0');
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
    await project.cleanup();
  }
});
