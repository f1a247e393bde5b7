// python-tuf's ngclient (tuf 7.x, the reference TUF client) reads repositories made by our CLI:
// it refreshes and downloads every target, follows root rotations from 1.root.json, accepts a
// threshold of 2 only once `sign` added the second signature, accepts what `refresh` re-signed,
// and refuses expired metadata (its clock is injected: ngclient_download.py --now).
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig, refreshRepository } from '../../src/repo/index.js';
import { cli } from '../helpers/cli.js';
import { pythonVenv } from '../helpers/python.js';
import {
  assertDownloadedAll,
  initWithReleases,
  interopClient,
  refusedUntilSigned,
} from './published-repo.js';
import type { InteropClient } from './published-repo.js';
import { appFolder, tempDir } from '../repo/publisher-fixture.js';

const py = pythonVenv('python-tuf');
const SCRIPT = fileURLToPath(new URL('./ngclient_download.py', import.meta.url));
const DAY = 86_400_000;

/** A python-tuf client of the repository at `repo`, trusting only its 1.root.json. */
const pythonClient = (dir: string, repo: string): Promise<InteropClient> =>
  interopClient([py.python!, SCRIPT], dir, repo);

test(
  'ngclient refreshes and downloads every target after init and three releases',
  { skip: py.skip, timeout: 300_000 },
  async () => {
    const dir = await tempDir('notsotuf-interop-');
    const repo = await initWithReleases(dir, ['1.0.0', '1.1.0', '1.2.0']);
    const client = await pythonClient(dir, repo);
    try {
      const { code, report } = await client.run();
      assert.equal(code, 0);
      await assertDownloadedAll(repo, report);
      // three archives and the two patches between them
      assert.deepEqual(Object.keys(report.targets!).sort(), [
        'demo-1.0.0.tar.gz',
        'demo-1.1.0.patch',
        'demo-1.1.0.tar.gz',
        'demo-1.2.0.patch',
        'demo-1.2.0.tar.gz',
      ]);
      assert.equal(report.root_version, 1);
      assert.equal(report.timestamp_version, 4);
    } finally {
      await client.close();
    }
  },
);

test(
  'ngclient follows root key replacement and revocation from 1.root.json',
  { skip: py.skip, timeout: 300_000 },
  async () => {
    const dir = await tempDir('notsotuf-interop-');
    const repo = await initWithReleases(dir, ['1.0.0']);
    const client = await pythonClient(dir, repo);
    try {
      // A client in the field that saw root v1 before the rotations.
      assert.equal((await client.run(['--no-download'])).report.root_version, 1);
      const steps: string[][] = [
        ['keys', 'new', 'root-2'],
        ['keys', 'replace', 'root', 'root-2', '--role', 'root'], // root v2: signed by old and new
        ['keys', 'new', 'timestamp-2'],
        ['keys', 'replace', 'timestamp', 'timestamp-2'], // root v3
        ['keys', 'new', 'root-3'],
        ['keys', 'add', 'root', 'root-3'], // root v4: root-2 and root-3, threshold 1
        ['keys', 'revoke', 'root-2', '--role', 'root'], // root v5: root-3 alone
      ];
      for (const s of steps) {
        const r = await cli(s, { cwd: dir });
        assert.equal(r.code, 0, `${s.join(' ')}: ${r.stderr}`);
      }
      const r = await cli(['release', 'add', '1.1.0', await appFolder(dir, '1.1.0')], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      const root5 = JSON.parse(await readFile(join(repo, 'metadata', '5.root.json'), 'utf8')) as {
        signed: { roles: { root: { keyids: string[] } } };
      };
      assert.equal(root5.signed.roles.root.keyids.length, 1);

      const old = await client.run();
      assert.equal(old.code, 0, old.report.message);
      assert.equal(old.report.root_version, 5);
      await assertDownloadedAll(repo, old.report);

      const fresh = await pythonClient(dir, repo);
      try {
        const { report } = await fresh.run();
        assert.equal(report.root_version, 5);
        await assertDownloadedAll(repo, report);
      } finally {
        await fresh.close();
      }
    } finally {
      await client.close();
    }
  },
);

test(
  'ngclient refuses targets with 1 of 2 signatures and accepts them after `sign`',
  { skip: py.skip, timeout: 300_000 },
  async () => {
    await refusedUntilSigned(
      await tempDir('notsotuf-interop-'),
      [py.python!, SCRIPT],
      'UnsignedMetadataError',
    );
  },
);

test(
  'ngclient refuses expired metadata, and accepts it again after `refresh` re-signed it',
  { skip: py.skip, timeout: 300_000 },
  async () => {
    const dir = await tempDir('notsotuf-interop-');
    const repo = await initWithReleases(dir, ['1.0.0', '1.1.0']);
    const start = Date.now();
    const later = (days: number) => new Date(start + days * DAY).toISOString();
    const client = await pythonClient(dir, repo);
    try {
      // timestamp.json lives one day: a day and a half later it is expired.
      const expired = await client.run(['--now', later(1.5)]);
      assert.equal(expired.code, 1);
      assert.equal(expired.report.error, 'ExpiredMetadataError', expired.report.message);
      assert.match(expired.report.message!, /timestamp/);
      assert.deepEqual(await readdir(join(client.workdir, 'downloads')), [], 'nothing downloaded');

      // Cron runs refresh 20 hours in, with 4 of the timestamp's 24 hours left.
      const config = await loadConfig(dir);
      const refreshed = await refreshRepository(config, { now: new Date(start + 20 * 3_600_000) });
      assert.deepEqual(refreshed.missingKeys, []);
      assert.ok(refreshed.refreshed.includes('timestamp'), refreshed.refreshed.join(','));
      const fresh = await client.run(['--now', later(1.5)]);
      assert.equal(fresh.code, 0, fresh.report.message);
      await assertDownloadedAll(repo, fresh.report);

      // The snapshot still expires after its 7 days, the refreshed timestamp after 44 hours.
      const stale = await client.run(['--now', later(2)]);
      assert.equal(stale.report.error, 'ExpiredMetadataError');
      const farther = await client.run(['--now', later(8)]);
      assert.equal(farther.report.error, 'ExpiredMetadataError');
    } finally {
      await client.close();
    }
  },
);
