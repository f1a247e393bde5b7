import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Updater } from 'tuf-js';
import { parseCustomMetadata } from '../../src/core/custom-metadata.js';
import { serveRepository } from '../../src/repo/index.js';
import { cli } from '../helpers/cli.js';
import { appFolder, tempDir } from '../repo/publisher-fixture.js';

test('init plus three release add is read by an independent TUF client (tuf-js Updater over HTTP)', async () => {
  const dir = await tempDir();
  const init = await cli(['init', '--yes', '--app', 'demo'], { cwd: dir });
  assert.equal(init.code, 0, init.stderr);
  const versions = ['1.0.0', '1.1.0', '2.0.0-beta.1'];
  for (const v of versions) {
    const r = await cli(
      ['release', 'add', v, await appFolder(dir, v), '--meta', '{"notes":"release ' + v + '"}'],
      { cwd: dir },
    );
    assert.equal(r.code, 0, r.stderr);
  }
  const status = await cli(['status'], { cwd: dir });
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.match(status.stdout, /OK: the repository verifies/);

  const repo = join(dir, 'repository');
  const server = await serveRepository({ root: repo });
  try {
    const clientDir = join(dir, 'client');
    const downloads = join(dir, 'downloads');
    await mkdir(clientDir);
    await mkdir(downloads);
    // The client trusts only the first root, as an app ships it.
    await copyFile(join(repo, 'metadata', '1.root.json'), join(clientDir, 'root.json'));
    const updater = new Updater({
      metadataDir: clientDir,
      metadataBaseUrl: `${server.url}/metadata`,
      targetDir: downloads,
      targetBaseUrl: `${server.url}/targets`,
    });
    await updater.refresh();
    const expected = [
      'demo-1.0.0.tar.gz',
      'demo-1.1.0.tar.gz',
      'demo-1.1.0.patch',
      'demo-2.0.0b1.tar.gz',
      'demo-2.0.0b1.patch',
    ];
    for (const name of expected) {
      const info = await updater.getTargetInfo(name);
      assert.ok(info, `${name} is listed in the signed targets`);
      const path = await updater.downloadTarget(info, join(downloads, name));
      const bytes = await readFile(path);
      assert.equal(bytes.length, info.length);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), info.hashes.sha256);
      const meta = parseCustomMetadata(name, info.custom);
      assert.ok(meta, `${name} carries notsotuf custom metadata`);
      assert.equal(meta.app, 'demo');
      if (meta.kind === 'archive') {
        assert.deepEqual(meta.user, {
          notes: `release ${meta.version === '2.0.0b1' ? '2.0.0-beta.1' : meta.version}`,
        });
        assert.equal(meta.tar.length % 512, 0);
      } else {
        assert.equal(meta.format, 'notsotuf-diff-2');
        assert.equal(meta.source.version, meta.version === '1.1.0' ? '1.0.0' : '1.1.0');
      }
    }
    assert.equal(
      await updater.getTargetInfo('demo-1.0.0.patch'),
      undefined,
      'the first release has no patch',
    );
  } finally {
    await server.close();
  }
});
