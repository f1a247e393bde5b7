// go-tuf (v2, the Go TUF implementation; test/interop/go-tuf/) reads repositories made by our CLI:
// a second client, independent of ours and of python-tuf. It refreshes and downloads every target
// (archives and patches, by their hash-prefixed names), follows root and timestamp key replacement
// from 1.root.json, refuses targets signed by 1 of 2 required keys until `sign` adds the second,
// and refuses a target whose bytes changed on the server.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli } from '../helpers/cli.js';
import { goTufClient } from '../helpers/go-tuf.js';
import { appFolder, tempDir } from '../repo/publisher-fixture.js';
import {
  assertDownloadedAll,
  initWithReleases,
  interopClient,
  publishedTargets,
  refusedUntilSigned,
} from './published-repo.js';
import type { InteropClient } from './published-repo.js';

const goTuf = goTufClient();

/** A go-tuf client of the repository at `repo`, trusting only its 1.root.json. */
const goClient = (dir: string, repo: string): Promise<InteropClient> =>
  interopClient([goTuf.path!], dir, repo);

test(
  'go-tuf follows root and timestamp key replacement and downloads every archive and patch',
  { skip: goTuf.skip, timeout: 300_000 },
  async () => {
    const dir = await tempDir('notsotuf-interop-');
    const repo = await initWithReleases(dir, ['1.0.0']);
    const client = await goClient(dir, repo);
    try {
      // A client in the field that saw root v1 before the rotations.
      const first = await client.run(['--no-download']);
      assert.equal(first.code, 0, first.report.message);
      assert.equal(first.report.root_version, 1);
      for (const step of [
        ['keys', 'new', 'root-2'],
        ['keys', 'replace', 'root', 'root-2', '--role', 'root'], // root v2, signed by old and new
        ['keys', 'new', 'timestamp-2'],
        ['keys', 'replace', 'timestamp', 'timestamp-2'], // root v3
      ]) {
        const r = await cli(step, { cwd: dir });
        assert.equal(r.code, 0, `${step.join(' ')}: ${r.stderr}`);
      }
      for (const v of ['1.1.0', '1.2.0']) {
        const r = await cli(['release', 'add', v, await appFolder(dir, v)], { cwd: dir });
        assert.equal(r.code, 0, r.stderr);
      }
      const old = await client.run();
      assert.equal(old.code, 0, old.report.message);
      assert.equal(old.report.root_version, 3);
      await assertDownloadedAll(repo, old.report);
      assert.deepEqual(Object.keys(old.report.targets!).sort(), [
        'demo-1.0.0.tar.gz',
        'demo-1.1.0.patch',
        'demo-1.1.0.tar.gz',
        'demo-1.2.0.patch',
        'demo-1.2.0.tar.gz',
      ]);

      const fresh = await goClient(dir, repo);
      try {
        const { code, report } = await fresh.run();
        assert.equal(code, 0, report.message);
        assert.equal(report.root_version, 3);
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
  'go-tuf refuses targets with 1 of 2 signatures and accepts them after `sign`',
  { skip: goTuf.skip, timeout: 300_000 },
  async () => {
    await refusedUntilSigned(await tempDir('notsotuf-interop-'), [goTuf.path!], 'ErrUnsignedMetadata');
  },
);

test(
  'go-tuf refuses a patch whose bytes changed on the server and keeps no copy of it',
  { skip: goTuf.skip, timeout: 300_000 },
  async () => {
    const dir = await tempDir('notsotuf-interop-');
    const repo = await initWithReleases(dir, ['1.0.0', '1.1.0']);
    const hashes = await publishedTargets(repo);
    const patchFile = join(repo, 'targets', `${hashes.get('demo-1.1.0.patch')}.demo-1.1.0.patch`);
    const bytes = await readFile(patchFile);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1); // same length, other bytes
    await writeFile(patchFile, bytes);
    const client = await goClient(dir, repo);
    try {
      const { code, report } = await client.run();
      assert.equal(code, 1);
      assert.equal(report.error, 'ErrLengthOrHashMismatch', report.message);
      assert.ok(!(await readdir(join(client.workdir, 'downloads'))).includes('demo-1.1.0.patch'));
    } finally {
      await client.close();
    }
  },
);
