import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '../../src/client/index.js';
import { networkFailure } from '../../src/client/network-failure.js';
import { cli } from '../helpers/cli.js';
import type { Project } from '../support/fixture.js';
import { clientOptions, installVersion, makeProject, writeCliConfig } from '../support/fixture.js';
import { freePort, startTestServer } from '../support/test-server.js';

/**
 * An update server that cannot be reached must say why (connection refused, name not found, TLS,
 * timeout) and which URL, not only "fetch failed": the person can then tell a typo in the URL from
 * a server that is down or a proxy that breaks TLS.
 */
let project: Project;
let root: string;

before(async () => {
  project = await makeProject();
  await project.publish('1.0.0');
  root = await mkdtemp(join(tmpdir(), 'notsotuf-unreachable-'));
  await installVersion(project, '1.0.0', join(root, 'app'));
});

after(async () => {
  await project.cleanup();
  await rm(root, { recursive: true, force: true });
});

function client(base: string, state: string): Client {
  return new Client(clientOptions(project, base, join(root, 'app'), join(root, state)));
}

test('connection refused: the message says so and names the URL', async () => {
  const base = `http://127.0.0.1:${await freePort()}`;
  await assert.rejects(client(base, 'state-refused').check(), (e: Error & { code?: string }) => {
    assert.equal(e.name, 'TransportError');
    assert.equal(e.code, 'NETWORK');
    assert.match(e.message, /connection refused/);
    assert.match(e.message, new RegExp(`${base.replace(/\./g, '\\.')}/metadata/`));
    assert.doesNotMatch(e.message, /fetch failed/);
    return true;
  });
});

test('TLS failure (https to a server that does not speak TLS): the message says TLS and names the URL', async () => {
  const plain = await startTestServer();
  try {
    const base = `https://127.0.0.1:${plain.port}`;
    await assert.rejects(client(base, 'state-tls').check(), (e: Error & { code?: string }) => {
      assert.equal(e.name, 'TransportError');
      assert.match(e.message, /TLS/);
      assert.match(e.message, /https:\/\/127\.0\.0\.1:\d+\/metadata\//);
      assert.doesNotMatch(e.message, /fetch failed/);
      return true;
    });
  } finally {
    await plain.close();
  }
});

test('CLI: check against a refused port prints the cause and the URL (exit 1)', async () => {
  const base = `http://127.0.0.1:${await freePort()}`;
  const opts = clientOptions(project, base, join(root, 'app'), join(root, 'state-cli'));
  const config = join(root, 'update.json');
  await writeCliConfig(config, opts);
  const r = await cli(['check', '--config', config]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /connection refused/);
  assert.match(r.stderr, /127\.0\.0\.1:\d+\/metadata\//);
});

// Name resolution and connect timeouts cannot be produced on this machine without traffic beyond
// the loopback range: the classification of undici's errors is checked on the errors as Node makes them.
test('the cause of undici\'s "fetch failed" is named: name not found, connect timeout, TLS certificate', () => {
  const failed = (cause: Error & { code?: string }): Error => new TypeError('fetch failed', { cause });
  const err = (message: string, code: string): Error & { code: string } =>
    Object.assign(new Error(message), { code });
  assert.match(
    networkFailure(failed(err('getaddrinfo ENOTFOUND updates.example.invalid', 'ENOTFOUND'))),
    /host name updates\.example\.invalid was not found \(DNS\)/,
  );
  assert.match(
    networkFailure(failed(err('Connect Timeout Error', 'UND_ERR_CONNECT_TIMEOUT'))),
    /timed out connecting/,
  );
  assert.match(
    networkFailure(failed(err('certificate has expired', 'CERT_HAS_EXPIRED'))),
    /TLS certificate .*certificate has expired/,
  );
  assert.match(networkFailure(new Error('something else')), /something else/);
});
