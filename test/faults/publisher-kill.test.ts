/**
 * Fault, publisher side: `release add` and `refresh` are killed with SIGKILL part way (while packing,
 * and just before each of the final renames that publish the new files, timestamp.json last). The
 * repository must still verify (`notsotuf status`: verifyRepository) and show the old state, a
 * client must still be served the old state, and a re-run of the same command must succeed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { refreshRepository } from '../../src/repo/refresh.js';
import { addRelease, DIFF_PATCH_MAKER } from '../../src/repo/release.js';
import type { RepoConfig } from '../../src/repo/config.js';
import { verifyRepository } from '../../src/repo/verify.js';
import type { Project } from '../support/fixture.js';
import { makeProject, TSX_LOADER, writeApp } from '../support/fixture.js';
import { cli } from '../helpers/cli.js';
import { exited } from './processes.js';
import type { PublisherChildSettings } from './publisher-child.js';

const CHILD = fileURLToPath(new URL('./publisher-child.ts', import.meta.url));

/** A fresh copy of a published project (repository, keys, cache), so each kill starts from the same state. */
async function copyProject(project: Project): Promise<{ config: RepoConfig; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-pubkill-'));
  await cp(project.dir, dir, { recursive: true, verbatimSymlinks: true });
  const rebase = (p: string): string => join(dir, p.slice(project.dir.length));
  const c = project.config;
  return {
    dir,
    config: {
      ...c,
      file: rebase(c.file),
      repository: rebase(c.repository),
      keys: rebase(c.keys),
      cache: rebase(c.cache),
    },
  };
}

async function runChild(settings: PublisherChildSettings, dir: string): Promise<string> {
  const file = join(dir, 'settings.json');
  await writeFile(file, JSON.stringify(settings));
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CHILD, file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const { code, signal } = await exited(child);
  const marker = await readFile(settings.marker, 'utf8').catch(() => '');
  assert.ok(signal === 'SIGKILL' || code === 0, `child ended with ${code}/${signal}: ${stderr}`);
  return signal === 'SIGKILL' ? marker : `exit: ${marker}`;
}

/** The signed state a client sees: timestamp.json's snapshot version and the releases listed. */
async function signedState(repo: string): Promise<{ timestamp: string; releases: string[] }> {
  const report = await verifyRepository(repo);
  assert.ok(report.ok, `the repository verifies: ${report.problems.map((p) => p.message).join('; ')}`);
  return {
    timestamp: await readFile(join(repo, 'metadata', 'timestamp.json'), 'utf8'),
    releases: report.releases.map((r) => `${r.app}-${r.version}`).sort(),
  };
}

let base: Project | undefined;
async function baseProject(): Promise<Project> {
  if (base !== undefined) return base;
  base = await makeProject();
  await base.publish('1.0.0');
  await base.publish('1.1.0');
  await writeApp(join(base.dir, 'builds', '1.2.0'), '1.2.0');
  return base;
}

test.after(async () => {
  await base?.cleanup();
});

const ADD_STEPS = 5; // archive, patch, N.targets.json, N.snapshot.json, timestamp.json

for (let k = -1; k < ADD_STEPS; k++) {
  test(`SIGKILL of release add ${k < 0 ? 'while packing' : `before final rename ${k + 1} of ${ADD_STEPS}`}: the repository verifies in its old state, and a re-run succeeds`, async () => {
    const project = await baseProject();
    const { config, dir } = await copyProject(project);
    try {
      const before = await signedState(config.repository);
      const folder = join(dir, 'builds', '1.2.0');
      const seen = await runChild(
        { config, op: { kind: 'add', version: '1.2.0', folder }, killAtStep: k, marker: join(dir, 'marker') },
        dir,
      );
      assert.match(seen, k < 0 ? /^packing$/ : /^before (targets|metadata)\//, seen);
      assert.deepEqual(await signedState(config.repository), before, 'old state, still verifying');

      const result = await addRelease(config, '1.2.0', folder, { patchMaker: DIFF_PATCH_MAKER });
      assert.equal(result.version, '1.2.0');
      const afterState = await signedState(config.repository);
      assert.deepEqual(afterState.releases, ['demo-1.0.0', 'demo-1.1.0', 'demo-1.2.0']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

for (const force of [['timestamp'], ['targets']] as const) {
  const steps = force[0] === 'timestamp' ? 1 : 3;
  for (let k = 0; k < steps; k++) {
    test(`SIGKILL of refresh (${force[0]}) before final rename ${k + 1} of ${steps}: the repository verifies in its old state, and a re-run succeeds`, async () => {
      const project = await baseProject();
      const { config, dir } = await copyProject(project);
      try {
        const before = await signedState(config.repository);
        const seen = await runChild(
          { config, op: { kind: 'refresh', force: [...force] }, killAtStep: k, marker: join(dir, 'marker') },
          dir,
        );
        assert.match(seen, /^before metadata\//, seen);
        assert.deepEqual(await signedState(config.repository), before);
        const r = await refreshRepository(config, { force: [...force] });
        assert.ok(r.refreshed.includes(force[0]));
        const afterState = await signedState(config.repository);
        assert.notEqual(afterState.timestamp, before.timestamp, 'a new timestamp was published');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
}

test('a killed release add leaves temp files only under .tmp- names; the re-run removes them', async () => {
  const project = await baseProject();
  const { config, dir } = await copyProject(project);
  try {
    const folder = join(dir, 'builds', '1.2.0');
    await runChild(
      { config, op: { kind: 'add', version: '1.2.0', folder }, killAtStep: 3, marker: join(dir, 'marker') },
      dir,
    );
    const listing = async (): Promise<string[]> => [
      ...(await readdir(join(config.repository, 'metadata'))),
      ...(await readdir(join(config.repository, 'targets'))),
    ];
    const finalName = /^(\d+\.(root|targets|snapshot)|root|timestamp)\.json$|^[0-9a-f]{64}\./;
    const killed = await listing();
    assert.ok(killed.filter((n) => n.startsWith('.tmp-')).length > 0, 'the kill left staged temp files');
    assert.ok(
      killed.every((n) => n.startsWith('.tmp-') || finalName.test(n)),
      killed.join(', '),
    );
    await addRelease(config, '1.2.0', folder, { patchMaker: DIFF_PATCH_MAKER });
    const after = await listing();
    assert.deepEqual(
      after.filter((n) => !finalName.test(n)),
      [],
      'no temp files after the re-run',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const BIN = fileURLToPath(new URL('../../src/cli/bin.ts', import.meta.url));

function cliAdd(config: RepoConfig, folder: string): ReturnType<typeof spawn> {
  return spawn(
    process.execPath,
    ['--import', TSX_LOADER, BIN, 'release', 'add', '1.2.0', folder, '--config', config.file],
    { stdio: 'ignore' },
  );
}

/**
 * Points of a real `release add` that the test sees from outside (the CLI is a separate process,
 * with no test hooks): the kill lands as soon as the point shows up in the project's folders, so
 * every case really kills, at a known step.
 */
const CLI_POINTS: { name: string; seen: (c: RepoConfig, before: ReadonlySet<string>) => boolean }[] = [
  {
    name: 'while packing (its work folder appears)',
    seen: (c) => names(c.cache).some((n) => n.startsWith('work-')),
  },
  {
    name: 'while the new archive is written into targets/',
    seen: (c) => names(join(c.repository, 'targets')).some((n) => n.endsWith('demo-1.2.0.tar.gz')),
  },
  {
    name: 'once the new patch shows up in targets/',
    seen: (c) => names(join(c.repository, 'targets')).some((n) => n.endsWith('demo-1.2.0.patch')),
  },
  {
    name: 'once the new targets metadata shows up in metadata/',
    seen: (c, before) =>
      names(join(c.repository, 'metadata')).some((n) => /^\d+\.targets\.json$/.test(n) && !before.has(n)),
  },
];

function names(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Kills `child` with SIGKILL as soon as `seen()` holds; false when the child ended first. */
function killWhenSeen(child: ReturnType<typeof spawn>, seen: () => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const tick = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(false);
      if (seen()) {
        child.kill('SIGKILL');
        return resolve(true);
      }
      setImmediate(tick);
    };
    setImmediate(tick);
  });
}

for (const point of CLI_POINTS) {
  test(`SIGKILL of the real notsotuf CLI (release add) ${point.name}: old or new state, never torn, and a re-run finishes`, async () => {
    const project = await baseProject();
    // The last point is seen only microseconds before the CLI ends; a run that ends between two
    // probes is run again on a fresh copy, at most three times, so every passing case killed.
    for (let attempt = 1; ; attempt++) {
      const { config, dir } = await copyProject(project);
      try {
        const before = await signedState(config.repository);
        const metadataBefore = new Set(names(join(config.repository, 'metadata')));
        const folder = join(dir, 'builds', '1.2.0');
        const child = cliAdd(config, folder);
        const killing = killWhenSeen(child, () => point.seen(config, metadataBefore));
        const { code, signal } = await exited(child);
        if (!(await killing)) {
          assert.ok(attempt < 3, `the CLI ended (exit ${code}) before the point was seen, ${attempt} times`);
          continue;
        }
        assert.equal(signal, 'SIGKILL');
        await checkKilledRelease(config, before, folder);
        return;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });
}

/** After a kill: the repository is in its old or new state, never torn, and a re-run finishes. */
async function checkKilledRelease(config: RepoConfig, before: unknown, folder: string): Promise<void> {
  const state = await signedState(config.repository);
  // The repository verifies, as before or (the renames that publish follow each other within
  // microseconds, so the kill may land after the last one) as after: never torn.
  assert.ok(
    JSON.stringify(state) === JSON.stringify(before) || state.releases.includes('demo-1.2.0'),
    JSON.stringify(state.releases),
  );
  if (!state.releases.includes('demo-1.2.0')) {
    const rerun = await cli(['release', 'add', '1.2.0', folder, '--config', config.file]);
    assert.equal(rerun.code, 0, rerun.stderr);
  }
  assert.deepEqual((await signedState(config.repository)).releases, [
    'demo-1.0.0',
    'demo-1.1.0',
    'demo-1.2.0',
  ]);
}
