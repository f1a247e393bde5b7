import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { runMain } from '../../src/cli/main.js';
import { cli, cliProcess } from '../helpers/cli.js';
import { clientOptions, installVersion, writeCliConfig } from '../support/fixture.js';
import { startTestServer } from '../support/test-server.js';
import { servedProject } from '../support/world.js';

const served = servedProject();

/** An app installed at 1.0.0 and a config file with paths relative to it, as another-language app would ship. */
async function installedApp(name: string): Promise<{ root: string; config: string; installDir: string }> {
  const root = await mkdtemp(join(tmpdir(), `notsotuf-cli-${name}-`));
  const installDir = join(root, 'app');
  await mkdir(root, { recursive: true });
  await installVersion(served.project, '1.0.0', installDir);
  const options = clientOptions(served.project, served.server.url, 'app', 'state');
  const config = await writeCliConfig(join(root, 'update.json'), {
    ...options,
    trustedRoot: relative(root, join(served.project.config.repository, 'metadata', '1.root.json')),
  });
  return { root, config, installDir };
}

test('check --json: exit 10 with the plan when an update is available', async () => {
  const { root, config } = await installedApp('check');
  try {
    const r = await cli(['check', '--config', config, '--json']);
    assert.equal(r.code, EXIT.updateAvailable, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out.status, 'available');
    assert.equal(out.version, '1.1.0');
    assert.equal(out.kind, 'patches');
    assert.deepEqual(out.files, ['demo-1.1.0.patch']);
    assert.equal(out.downloadBytes, served.project.releases[1]?.result.patch?.length);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('update --yes installs right away (exit 11), then check says none (exit 0), as a real process', async () => {
  const { root, config, installDir } = await installedApp('update');
  try {
    const r = await cliProcess(['update', '--config', config, '--yes']);
    assert.equal(r.code, EXIT.updated, r.stderr);
    assert.match(r.stdout, /updated demo 1\.0\.0 -> 1\.1\.0 \(by patches\)/);
    assert.deepEqual(await hashFolderAsTar(installDir), served.project.releases[1]?.result.tar);
    const again = await cli(['check', '--config', config, '--current-version', '1.1.0']);
    assert.equal(again.code, EXIT.ok, again.stderr);
    assert.match(again.stdout, /up to date/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('update without --yes and no terminal: usage error (exit 2), nothing installed', async () => {
  const { root, config, installDir } = await installedApp('noyes');
  try {
    const r = await cli(['update', '--config', config]);
    assert.equal(r.code, EXIT.usage);
    assert.match(r.stderr, /--yes/);
    assert.deepEqual(await hashFolderAsTar(installDir), served.project.releases[0]?.result.tar);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('missing settings are a usage error naming them (exit 2)', async () => {
  const r = await cli(['check', '--app-name', 'demo']);
  assert.equal(r.code, EXIT.usage);
  assert.match(r.stderr, /installDir \(--install-dir\)/);
  const bad = await cli(['check', '--config', '/nonexistent/update.json']);
  assert.equal(bad.code, EXIT.usage);
  assert.match(bad.stderr, /cannot read config file/);
});

test('a repository that cannot be reached fails with exit 1', async () => {
  const { root, config } = await installedApp('offline');
  try {
    const r = await cli([
      'check',
      '--config',
      config,
      '--metadata-url',
      'http://127.0.0.1:9/metadata',
      '--json',
    ]);
    assert.equal(r.code, EXIT.failure, r.stdout);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a private repository: --header sends the credentials; without them the check fails (exit 1)', async () => {
  const privateServer = await startTestServer({
    root: served.project.config.repository,
    authorization: 'Bearer s3cret',
  });
  const { root, config } = await installedApp('private');
  try {
    const urls = [
      '--metadata-url',
      `${privateServer.url}/metadata`,
      '--targets-url',
      `${privateServer.url}/targets`,
    ];
    const denied = await cli(['check', '--config', config, ...urls]);
    assert.equal(denied.code, EXIT.failure);
    assert.match(denied.stderr, /401/);
    const ok = await cli(['check', '--config', config, ...urls, '--header', 'Authorization: Bearer s3cret']);
    assert.equal(ok.code, EXIT.updateAvailable, ok.stderr);
    assert.ok(privateServer.log.some((r) => r.status === 200));
  } finally {
    await privateServer.close();
    await rm(root, { recursive: true, force: true });
  }
});

test('update on a terminal draws a progress bar on stderr that reaches 100%', async () => {
  const { root, config } = await installedApp('tty');
  try {
    let stderr = '';
    let stdout = '';
    const code = await runMain(['update', '--config', config, '--yes'], {
      cwd: root,
      env: {},
      stdout: { write: (s: string) => (stdout += s) },
      stderr: Object.assign({ write: (s: string) => (stderr += s) }, { isTTY: true }),
      prompt: undefined,
    });
    assert.equal(code, EXIT.updated, stderr);
    assert.match(stderr, /\r(download|rebuild|unpack) +\[#{30}\] 100% /);
    assert.match(stdout, /updated demo 1\.0\.0 -> 1\.1\.0/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('update without --yes on a terminal asks; "n" leaves the app as it is (exit 10), "y" installs (exit 11)', async () => {
  const { root, config, installDir } = await installedApp('prompt');
  try {
    const run = async (answer: string): Promise<{ code: number; asked: string[] }> => {
      const asked: string[] = [];
      const code = await runMain(['update', '--config', config], {
        cwd: root,
        env: {},
        stdout: { write: () => true },
        stderr: { write: () => true },
        prompt: (q: string) => {
          asked.push(q);
          return Promise.resolve(answer);
        },
      });
      return { code, asked };
    };
    const no = await run('n');
    assert.equal(no.code, EXIT.updateAvailable);
    assert.match(no.asked[0] ?? '', /Install demo 1\.1\.0 now\?/);
    assert.deepEqual(await hashFolderAsTar(installDir), served.project.releases[0]?.result.tar);
    const yes = await run('y');
    assert.equal(yes.code, EXIT.updated);
    assert.deepEqual(await hashFolderAsTar(installDir), served.project.releases[1]?.result.tar);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
