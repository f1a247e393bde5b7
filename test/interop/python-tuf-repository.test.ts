// Our client reads a repository that python-tuf's Metadata API made (metadata_api_repo.py, the
// shape of python-tuf's basic_repo example) with targets named and described as our publisher
// does: `check` finds the update and `update` installs it by patch, twice (a second targets
// version adds a release), and the installed folder is exactly the release.
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hashFolderAsTar, unpackArchive } from '../../src/archive/index.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { serveRepository } from '../../src/repo/index.js';
import { cli } from '../helpers/cli.js';
import { pythonVenv } from '../helpers/python.js';
import { appFolder, tempDir } from '../repo/publisher-fixture.js';
import { runProcess } from '../support/processes.js';

const py = pythonVenv('python-tuf');
const SCRIPT = fileURLToPath(new URL('./metadata_api_repo.py', import.meta.url));

async function runPython(args: string[]): Promise<{ code: number; out: string }> {
  const r = await runProcess(py.python!, [SCRIPT, ...args]);
  return { code: r.code ?? -1, out: r.output };
}

interface Built {
  archive: string;
  patch?: string;
}

/**
 * The app's release files (archives, patches) made by our CLI in a scratch project: only the data
 * files and the patch format name are taken from it, never its metadata.
 */
async function buildReleases(
  dir: string,
  versions: string[],
): Promise<{ files: Map<string, Built>; format: string }> {
  const scratch = join(dir, 'scratch');
  await mkdir(scratch);
  assert.equal((await cli(['init', '--yes', '--app', 'demo'], { cwd: scratch })).code, 0);
  for (const v of versions) {
    const r = await cli(['release', 'add', v, await appFolder(dir, v)], { cwd: scratch });
    assert.equal(r.code, 0, r.stderr);
  }
  const targetsDir = join(scratch, 'repository', 'targets');
  const files = new Map<string, Built>();
  for (const f of await readdir(targetsDir)) {
    const m = /^[0-9a-f]{64}\.demo-(.+)\.(tar\.gz|patch)$/.exec(f);
    assert.ok(m, f);
    const entry = files.get(m[1]!) ?? { archive: '' };
    if (m[2] === 'patch') entry.patch = join(targetsDir, f);
    else entry.archive = join(targetsDir, f);
    files.set(m[1]!, entry);
  }
  const meta = (await readdir(join(scratch, 'repository', 'metadata'))).filter((f) =>
    /^\d+\.targets\.json$/.test(f),
  );
  const newest = meta.sort((a, b) => parseInt(b) - parseInt(a))[0]!;
  const targets = JSON.parse(await readFile(join(scratch, 'repository', 'metadata', newest), 'utf8')) as {
    signed: { targets: Record<string, { custom: { notsotuf: { format?: string } } }> };
  };
  const format = targets.signed.targets[`demo-${versions[1]}.patch`]!.custom.notsotuf.format!;
  return { files, format };
}

function releaseArg(version: string, b: Built): string[] {
  return ['--release', `${version}=${b.archive}${b.patch ? `,${b.patch}` : ''}`];
}

test(
  'our client checks and updates by patch from a repository made by python-tuf (Metadata API)',
  { skip: py.skip, timeout: 300_000 },
  async () => {
    const dir = await tempDir('notsotuf-interop-');
    const { files, format } = await buildReleases(dir, ['1.0.0', '1.1.0', '1.2.0']);
    const repo = join(dir, 'python-repo');
    const base = ['--repo', repo, '--app', 'demo', '--patch-format', format];
    const first = await runPython([
      ...base,
      ...releaseArg('1.0.0', { archive: files.get('1.0.0')!.archive }),
      ...releaseArg('1.1.0', files.get('1.1.0')!),
    ]);
    assert.equal(first.code, 0, first.out);
    // python-tuf wrote it, not us: its serializer's layout and its keys.
    const rootText = await readFile(join(repo, 'metadata', '1.root.json'), 'utf8');
    assert.match(rootText, /^\{\n "signatures"/);

    const server = await serveRepository({ root: repo });
    try {
      const installDir = join(dir, 'app');
      await unpackArchive(files.get('1.0.0')!.archive, installDir);
      const config = join(dir, 'update.json');
      await writeFile(
        config,
        JSON.stringify({
          appName: 'demo',
          installDir,
          currentVersion: '1.0.0',
          stateDir: join(dir, 'state'),
          metadataUrl: `${server.url}/metadata`,
          targetsUrl: `${server.url}/targets`,
          trustedRoot: join(repo, 'metadata', '1.root.json'),
        }),
      );
      const check = await cli(['check', '--config', config, '--json']);
      assert.equal(check.code, EXIT.updateAvailable, check.stdout + check.stderr);
      const plan = JSON.parse(check.stdout) as Record<string, unknown>;
      assert.equal(plan.version, '1.1.0');
      assert.equal(plan.kind, 'patches');
      assert.deepEqual(plan.files, ['demo-1.1.0.patch']);

      const update = await cli(['update', '--config', config, '--yes']);
      assert.equal(update.code, EXIT.updated, update.stdout + update.stderr);
      assert.match(update.stdout, /updated demo 1\.0\.0 -> 1\.1\.0 \(by patches\)/);
      const fresh11 = join(dir, 'fresh-1.1.0');
      await unpackArchive(files.get('1.1.0')!.archive, fresh11);
      assert.deepEqual(await hashFolderAsTar(installDir), await hashFolderAsTar(fresh11));

      // python-tuf signs a second targets version with 1.2.0: the client sees and installs it.
      const second = await runPython([...base, ...releaseArg('1.2.0', files.get('1.2.0')!)]);
      assert.equal(second.code, 0, second.out);
      assert.match(second.out, /targets v2, 5 targets/);
      const next = await cli(['check', '--config', config, '--current-version', '1.1.0', '--json']);
      assert.equal(next.code, EXIT.updateAvailable, next.stdout + next.stderr);
      assert.equal((JSON.parse(next.stdout) as { version: string }).version, '1.2.0');
      const update2 = await cli(['update', '--config', config, '--current-version', '1.1.0', '--yes']);
      assert.equal(update2.code, EXIT.updated, update2.stdout + update2.stderr);
      assert.match(update2.stdout, /1\.1\.0 -> 1\.2\.0 \(by patches\)/);
      const fresh12 = join(dir, 'fresh-1.2.0');
      await unpackArchive(files.get('1.2.0')!.archive, fresh12);
      assert.deepEqual(await hashFolderAsTar(installDir), await hashFolderAsTar(fresh12));
      const done = await cli(['check', '--config', config, '--current-version', '1.2.0']);
      assert.equal(done.code, EXIT.ok, done.stdout + done.stderr);
    } finally {
      await server.close();
    }
  },
);
