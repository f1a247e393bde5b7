import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { cli, cliProcess } from '../helpers/cli.js';
import type { Project } from '../support/fixture.js';
import {
  exitedPid,
  installVersion,
  makeProject,
  waitFor,
  waitForResult,
  writeCliConfig,
} from '../support/fixture.js';
import { servedProject } from '../support/world.js';

/**
 * The client commands as an app in another language uses them: `install` (first install), `check`
 * and `update` with no currentVersion, `confirm`, and every bad input of issue 8 (each a clear
 * message, a non-zero exit, one JSON error object with --json, nothing installed changed).
 */

const served = servedProject();
/** Another repository (its root.json is the wrong trust file here). */
let other: Project;

before(async () => {
  other = await makeProject();
  await other.publish('1.0.0');
});

after(() => other.cleanup());

interface World {
  root: string;
  config: string;
  installDir: string;
  stateDir: string;
}

/** update.json beside the install folder, paths relative to it; no currentVersion. */
async function world(name: string, extra: Record<string, unknown> = {}): Promise<World> {
  const root = await mkdtemp(join(tmpdir(), `notsotuf-cli-${name}-`));
  const config = await writeCliConfig(
    join(root, 'update.json'),
    {
      appName: 'demo',
      installDir: 'apps/demo',
      metadataUrl: `${served.server.url}/metadata`,
      targetsUrl: `${served.server.url}/targets`,
      trustedRoot: relative(root, join(served.project.config.repository, 'metadata', '1.root.json')),
    },
    extra,
  );
  return {
    root,
    config,
    installDir: join(root, 'apps', 'demo'),
    stateDir: join(root, 'apps', 'demo.notsotuf-state'),
  };
}

function json(stdout: string): Record<string, unknown> {
  const lines = stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one JSON object on stdout: ${stdout}`);
  return JSON.parse(lines[0] ?? '') as Record<string, unknown>;
}

function jsonError(stdout: string): { name: string; code: string; message: string } {
  const out = json(stdout);
  assert.equal(out.status, 'error');
  return out.error as { name: string; code: string; message: string };
}

const tarOf = (version: string) => served.project.releases.find((r) => r.version === version)?.result.tar;

async function siblings(w: World): Promise<string[]> {
  return (await readdir(join(w.root, 'apps'))).sort();
}

test('install puts the newest release into a missing folder; check with the same update.json says up to date', async () => {
  const w = await world('install');
  try {
    const r = await cliProcess(['install', '--config', w.config, '--json']);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(json(r.stdout), {
      status: 'installed',
      version: '1.1.0',
      installDir: w.installDir,
      downloadBytes: served.project.releases[1]?.result.archive.length,
    });
    assert.deepEqual(await hashFolderAsTar(w.installDir), tarOf('1.1.0'));
    // only the app and its state folder: no staging leftovers
    assert.deepEqual(await siblings(w), ['demo', 'demo.notsotuf-state']);
    const check = await cli(['check', '--config', w.config, '--json']);
    assert.equal(check.code, EXIT.ok, check.stderr);
    assert.deepEqual(json(check.stdout), { status: 'none', currentVersion: '1.1.0' });
    // a second install leaves it as it is
    const again = await cli(['install', '--config', w.config, '--json']);
    assert.equal(again.code, EXIT.ok, again.stderr);
    assert.deepEqual(json(again.stdout), {
      status: 'already-installed',
      version: '1.1.0',
      installDir: w.installDir,
    });
  } finally {
    await rm(w.root, { recursive: true, force: true });
  }
});

test('install into an empty folder; a folder holding a release by hand is already installed', async () => {
  const w = await world('empty');
  try {
    await mkdir(w.installDir, { recursive: true });
    const r = await cli(['install', '--config', w.config]);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.match(r.stdout, /installed demo 1\.1\.0 in /);
    assert.deepEqual(await hashFolderAsTar(w.installDir), tarOf('1.1.0'));
    await rm(w.installDir, { recursive: true });
    await rm(w.stateDir, { recursive: true });
    await installVersion(served.project, '1.0.0', w.installDir);
    const known = await cli(['install', '--config', w.config, '--json']);
    assert.equal(known.code, EXIT.ok, known.stderr);
    assert.equal(json(known.stdout).status, 'already-installed');
    assert.equal(json(known.stdout).version, '1.0.0');
    assert.deepEqual(await hashFolderAsTar(w.installDir), tarOf('1.0.0'));
  } finally {
    await rm(w.root, { recursive: true, force: true });
  }
});

test('install into a folder holding other files: INSTALL_DIR_NOT_EMPTY (exit 2), nothing changed', async () => {
  const w = await world('foreign');
  try {
    await mkdir(w.installDir, { recursive: true });
    await writeFile(join(w.installDir, 'thesis.tex'), 'my own work\n');
    const before = await hashFolderAsTar(w.installDir);
    const requests = served.server.log.length;
    const r = await cliProcess(['install', '--config', w.config, '--json']);
    assert.equal(r.code, EXIT.usage, r.stderr);
    const e = jsonError(r.stdout);
    assert.equal(e.code, 'INSTALL_DIR_NOT_EMPTY');
    assert.match(
      e.message,
      /not a release of demo: install into a new or empty folder \(nothing was changed\)/,
    );
    assert.match(r.stderr, /INSTALL_DIR_NOT_EMPTY|not a release/);
    assert.deepEqual(await hashFolderAsTar(w.installDir), before);
    assert.deepEqual(await siblings(w), ['demo', 'demo.notsotuf-state']);
    assert.ok(
      !served.server.log.slice(requests).some((l) => l.path.startsWith('/targets/')),
      'nothing downloaded',
    );
  } finally {
    await rm(w.root, { recursive: true, force: true });
  }
});

test('update --yes, then check with the same update.json (even one with a stale currentVersion) says up to date', async () => {
  const w = await world('stale', { currentVersion: '1.0.0' });
  try {
    await installVersion(served.project, '1.0.0', w.installDir);
    const up = await cliProcess(['update', '--config', w.config, '--yes', '--json']);
    assert.equal(up.code, EXIT.updated, up.stderr);
    assert.equal(json(up.stdout).status, 'updated');
    assert.deepEqual(await hashFolderAsTar(w.installDir), tarOf('1.1.0'));
    const check = await cli(['check', '--config', w.config, '--json']);
    assert.equal(check.code, EXIT.ok, check.stderr);
    assert.equal(json(check.stdout).currentVersion, '1.1.0');
    assert.equal(
      json(check.stdout).lastHandover && (json(check.stdout).lastHandover as { outcome: string }).outcome,
      'installed',
    );
    // the installed version's tar survives the check (the next update patches from it)
    assert.equal((await stat(join(w.stateDir, 'tars', '1.1.0.tar'))).size, tarOf('1.1.0')?.length);
    const human = await cli(['check', '--config', w.config]);
    assert.equal(human.code, EXIT.ok, human.stderr);
    assert.match(human.stdout, /demo 1\.1\.0 is up to date/);
    assert.match(human.stderr, /currentVersion says 1\.0\.0, but notsotuf installed 1\.1\.0 in this folder/);
    const again = await cli(['update', '--config', w.config, '--yes', '--json']);
    assert.equal(again.code, EXIT.ok, again.stderr);
    assert.equal(json(again.stdout).status, 'none');
  } finally {
    await rm(w.root, { recursive: true, force: true });
  }
});

test('bad input: a missing or unreadable update.json, for every client command', async () => {
  for (const command of [['install'], ['check'], ['update', '--yes'], ['confirm']]) {
    const r = await cli([...command, '--config', '/nonexistent/update.json', '--json']);
    assert.equal(r.code, EXIT.usage, command.join(' '));
    assert.equal(jsonError(r.stdout).code, 'CONFIG_UNREADABLE');
  }
  const w = await world('bad-json');
  try {
    await writeFile(w.config, '{ "appName": ');
    const r = await cli(['check', '--config', w.config, '--json']);
    assert.equal(r.code, EXIT.usage);
    assert.equal(jsonError(r.stdout).code, 'CONFIG_INVALID');
  } finally {
    await rm(w.root, { recursive: true, force: true });
  }
});

test("bad input: a root.json of another repository is the LOCAL trust file's fault; fixed, it works", async () => {
  const w = await world('wrong-root', {
    trustedRoot: join(other.config.repository, 'metadata', '1.root.json'),
  });
  try {
    await installVersion(served.project, '1.0.0', w.installDir);
    const r = await cli(['check', '--config', w.config, '--json']);
    assert.equal(r.code, EXIT.failure, r.stderr);
    const e = jsonError(r.stdout);
    assert.equal(e.name, 'DataError');
    assert.equal(e.code, 'TRUSTED_ROOT_MISMATCH');
    assert.match(
      e.message,
      /the trusted root .*1\.root\.json does not match the repository at http:\/\/127\.0\.0\.1/,
    );
    assert.match(e.message, /Ship this repository's root\.json/);
    const install = await cli([
      'install',
      '--config',
      w.config,
      '--install-dir',
      join(w.root, 'fresh'),
      '--json',
    ]);
    assert.equal(jsonError(install.stdout).code, 'TRUSTED_ROOT_MISMATCH');
    await assert.rejects(stat(join(w.root, 'fresh')), { code: 'ENOENT' });
    assert.deepEqual(await hashFolderAsTar(w.installDir), tarOf('1.0.0'));
    // The right root.json shipped: the same state folder works (the wrong copy was not kept).
    const fixed = await cli([
      'check',
      '--config',
      w.config,
      '--trusted-root',
      join(served.project.config.repository, 'metadata', '1.root.json'),
      '--json',
    ]);
    assert.equal(fixed.code, EXIT.updateAvailable, fixed.stdout + fixed.stderr);
  } finally {
    await rm(w.root, { recursive: true, force: true });
  }
});

test('bad input: an install folder that is not a release is NOT_A_RELEASE naming --current-version', async () => {
  const w = await world('not-release');
  try {
    await mkdir(w.installDir, { recursive: true });
    await writeFile(join(w.installDir, 'app.bin'), 'built by hand\n');
    for (const command of [['check'], ['update', '--yes']]) {
      const r = await cli([...command, '--config', w.config, '--json']);
      assert.equal(r.code, EXIT.usage, command.join(' '));
      const e = jsonError(r.stdout);
      assert.equal(e.code, 'NOT_A_RELEASE');
      assert.match(e.message, /currentVersion in update\.json \(or --current-version\)/);
    }
    assert.deepEqual(await readdir(w.installDir), ['app.bin']);
  } finally {
    await rm(w.root, { recursive: true, force: true });
  }
});

test('bad input: update --restart with no command known is refused before anything is downloaded', async () => {
  const w = await world('no-command');
  try {
    await installVersion(served.project, '1.0.0', w.installDir);
    const requests = served.server.log.length;
    const r = await cli(['update', '--config', w.config, '--yes', '--restart', '--json']);
    assert.equal(r.code, EXIT.usage, r.stderr);
    const e = jsonError(r.stdout);
    assert.equal(e.code, 'RESTART_COMMAND_MISSING');
    assert.match(e.message, /"command"/);
    assert.match(e.message, /after "--"/);
    assert.equal(served.server.log.length, requests, 'no request reached the server');
    assert.deepEqual(await hashFolderAsTar(w.installDir), tarOf('1.0.0'));
    const stray = await cli(['update', '--config', w.config, '--yes', '--wait-pid', '1234', '--json']);
    assert.equal(stray.code, EXIT.usage);
    assert.equal(jsonError(stray.stdout).code, 'BAD_ARGUMENTS');
  } finally {
    await rm(w.root, { recursive: true, force: true });
  }
});

test('bad input: update --restart --wait-timeout 0 is refused before anything is downloaded', async () => {
  const w = await world('wait-zero');
  try {
    await installVersion(served.project, '1.0.0', w.installDir);
    const requests = served.server.log.length;
    const r = await cli([
      'update',
      '--config',
      w.config,
      '--yes',
      '--restart',
      '--wait-timeout',
      '0',
      '--json',
      '--',
      '/bin/true',
    ]);
    assert.equal(r.code, EXIT.usage, r.stderr);
    const e = jsonError(r.stdout);
    assert.equal(e.code, 'CONFIG_INVALID');
    assert.match(e.message, /--wait-timeout must be a whole number of seconds from 1 to 86400/);
    assert.equal(served.server.log.length, requests, 'no request reached the server');
    assert.deepEqual(await hashFolderAsTar(w.installDir), tarOf('1.0.0'));
  } finally {
    await rm(w.root, { recursive: true, force: true });
  }
});

test('bad input: confirm with nothing pending is NOTHING_TO_CONFIRM (exit 2), nothing written', async () => {
  const w = await world('confirm');
  try {
    await installVersion(served.project, '1.0.0', w.installDir);
    const r = await cliProcess(['confirm', '--config', w.config, '--json']);
    assert.equal(r.code, EXIT.usage, r.stderr);
    const e = jsonError(r.stdout);
    assert.equal(e.code, 'NOTHING_TO_CONFIRM');
    assert.match(e.message, /no new version of demo waits for a confirmation/);
    await assert.rejects(stat(join(w.stateDir, 'handover')), { code: 'ENOENT' });
  } finally {
    await rm(w.root, { recursive: true, force: true });
  }
});

test('update --restart -- COMMAND ARGS: the installer waits for --wait-pid and restarts that command as given', async () => {
  const w = await world('dash');
  try {
    await installVersion(served.project, '1.0.0', w.installDir);
    const marker = join(w.root, 'restarted.txt');
    const r = await cliProcess(
      [
        'update',
        '--config',
        w.config,
        '--yes',
        '--restart',
        '--wait-pid',
        String(await exitedPid()),
        '--health-timeout',
        '0',
        '--json',
        '--',
        '/bin/sh',
        '-c',
        'printf "%s|%s|%s" "$NOTSOTUF_HANDOVER" "$1" "$2" > "$0"',
        marker,
        'one',
        'two words',
      ],
      { cwd: w.root },
    );
    assert.equal(r.code, EXIT.updated, r.stderr);
    const out = json(r.stdout);
    assert.equal(out.status, 'handed-over');
    assert.equal(out.version, '1.1.0');
    assert.equal((await waitForResult(w.stateDir)).outcome, 'installed');
    assert.equal(
      await waitFor('the restarted command', () => readFile(marker, 'utf8').catch(() => undefined)),
      '1|one|two words',
    );
    assert.deepEqual(await hashFolderAsTar(w.installDir), tarOf('1.1.0'));
  } finally {
    await rm(w.root, { recursive: true, force: true });
  }
});
