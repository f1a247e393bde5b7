import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runTufConformance } from '../../tools/tuf-conformance.js';
import { startTestServer } from '../support/test-server.js';
import { TestRepo } from '../helpers/tuf-repo.js';

/**
 * The README's commands, as a new user types them in an empty folder: `md` and `out` do not exist
 * yet. `download` failed with ENOENT because the target folder was not created.
 */
test("README's init / refresh / download work in an empty folder (metadata and target folders are created)", async () => {
  const repo = TestRepo.create();
  repo.addTarget('app-1.0.0.tar.gz', 'the app');
  repo.publishAll();
  const server = await startTestServer({ files: repo.files });
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-conf-readme-'));
  try {
    await writeFile(join(dir, 'root.json'), repo.trustedRoot);
    const run = async (...args: string[]): Promise<{ code: number; err: string }> => {
      let err = '';
      const code = await runTufConformance(args, {
        stdout: { write: () => true },
        stderr: { write: (s: string) => (err += s) },
      });
      return { code, err };
    };
    const md = join(dir, 'md');
    const out = join(dir, 'out');
    const murl = `${server.url}/metadata`;
    const init = await run('--metadata-dir', md, 'init', join(dir, 'root.json'));
    assert.equal(init.code, 0, init.err);
    const refresh = await run('--metadata-url', murl, '--metadata-dir', md, 'refresh');
    assert.equal(refresh.code, 0, refresh.err);
    const download = await run(
      '--metadata-url',
      murl,
      '--metadata-dir',
      md,
      '--target-name',
      'app-1.0.0.tar.gz',
      '--target-dir',
      out,
      '--target-base-url',
      `${server.url}/targets`,
      'download',
    );
    assert.equal(download.code, 0, download.err);
    assert.equal(await readFile(join(out, 'app-1.0.0.tar.gz'), 'utf8'), 'the app');
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
