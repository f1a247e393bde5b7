import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '../../src/client/index.js';
import { cli } from '../helpers/cli.js';
import type { Project } from '../support/fixture.js';
import { clientOptions, installVersion, makeProject, writeCliConfig } from '../support/fixture.js';
import { startTestServer } from '../support/test-server.js';
import type { TestServer } from '../support/test-server.js';

/**
 * A misspelt app name must not look like "up to date": the app would never update. A repository
 * that holds no release at all of the configured app is a usage error naming the apps it holds.
 */
let project: Project;
let server: TestServer;
let root: string;

before(async () => {
  project = await makeProject();
  await project.publish('1.0.0');
  server = await startTestServer({ root: project.config.repository });
  root = await mkdtemp(join(tmpdir(), 'notsotuf-unknown-app-'));
  await installVersion(project, '1.0.0', join(root, 'app'));
});

after(async () => {
  await server.close();
  await project.cleanup();
  await rm(root, { recursive: true, force: true });
});

test('check() with an app name the repository has no release of throws APP_NOT_IN_REPOSITORY naming the apps it holds', async () => {
  const client = new Client({
    ...clientOptions(project, server.url, join(root, 'app'), join(root, 'state-lib')),
    appName: 'nosuchapp',
  });
  await assert.rejects(client.check(), (e: Error & { code?: string }) => {
    assert.equal(e.name, 'UsageError');
    assert.equal(e.code, 'APP_NOT_IN_REPOSITORY');
    assert.match(e.message, /no release of "nosuchapp"/);
    assert.match(e.message, /it holds: demo\b/);
    return true;
  });
  // The right name still works.
  const ok = new Client(clientOptions(project, server.url, join(root, 'app'), join(root, 'state-ok')));
  assert.equal((await ok.check()).kind, 'none');
});

test('CLI: check --app-name nosuchapp exits 2 and names the apps instead of "up to date"', async () => {
  const config = join(root, 'update.json');
  const opts = clientOptions(project, server.url, join(root, 'app'), join(root, 'state-cli'));
  await writeCliConfig(config, opts);
  const r = await cli(['check', '--config', config, '--app-name', 'nosuchapp']);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /up to date/);
  assert.match(r.stderr, /no release of "nosuchapp".*it holds: demo/);
});
