import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { addRelease, initRepository, publishRepository, serveRepository } from '../../src/repo/index.js';
import { startTestServer } from '../support/test-server.js';
import { appFolder, hashTree, tempDir } from './publisher-fixture.js';

/**
 * The library itself (not only the CLI) refuses to publish into a folder that holds private keys
 * (it is served to everyone), and turns listen errors into errors that say what to do.
 */
async function project(): Promise<{ dir: string; repository: string; keys: string }> {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  return { dir, repository: config.repository, keys: config.keys };
}

test('publishRepository refuses the project folder (it holds the keys), nothing copied', async () => {
  const p = await project();
  const before = await hashTree(p.dir);
  await assert.rejects(publishRepository(p.repository, p.dir), (e: Error & { code?: string }) => {
    assert.equal(e.name, 'UsageError');
    assert.equal(e.code, 'DEST_HOLDS_KEYS');
    assert.match(e.message, /private key/);
    return true;
  });
  assert.deepEqual(await hashTree(p.dir), before);
});

test('publishRepository refuses a destination that holds the given key folder or any private key file', async () => {
  const p = await project();
  const web = await tempDir('notsotuf-web-');
  // keyDir given: inside DEST, even before any key is in it.
  await assert.rejects(publishRepository(p.repository, web, { keyDir: join(web, 'secrets', 'keys') }), {
    code: 'DEST_HOLDS_KEYS',
  });
  // A private key somewhere near the top of DEST (a copied key folder).
  await mkdir(join(web, 'backup'));
  await writeFile(
    join(web, 'backup', 'root.key'),
    '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n',
  );
  const before = await hashTree(web);
  await assert.rejects(publishRepository(p.repository, web), { code: 'DEST_HOLDS_KEYS' });
  assert.deepEqual(await hashTree(web), before);
  // A clean folder publishes.
  const clean = await tempDir('notsotuf-web-');
  const r = await publishRepository(p.repository, clean, { keyDir: p.keys });
  assert.ok(r.copied.length > 0);
});

test('serveRepository on a busy port rejects with UsageError CANNOT_LISTEN saying what to do', async () => {
  const p = await project();
  // Another server holds the port.
  const busy = await startTestServer();
  try {
    const { port } = busy;
    await assert.rejects(
      serveRepository({ root: p.repository, port, host: '127.0.0.1' }),
      (e: Error & { code?: string; cause?: unknown }) => {
        assert.equal(e.name, 'UsageError');
        assert.equal(e.code, 'CANNOT_LISTEN');
        assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port} is already in use`));
        assert.equal((e.cause as { code?: string }).code, 'EADDRINUSE');
        return true;
      },
    );
  } finally {
    await busy.close();
  }
});
