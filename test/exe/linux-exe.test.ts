/**
 * The Linux single-file client executable (dist/exe/notsotuf-linux-x64) run as a user's machine
 * would: no `node` on the PATH, no NODE_* variables. It checks and updates an app installed from a
 * repository our publisher code signed, served on 127.0.0.1. The executable is built first when it
 * is missing or stale (never skipped).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { before, test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { CLIENT_COMMANDS } from '../../src/cli/commands/client-commands.js';
import { PUBLISHER_COMMANDS } from '../../src/cli/commands/index.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { clientOptions, installVersion, writeCliConfig } from '../support/fixture.js';
import { arm64ExeMissing, envWithoutNode, freshExecutable, runClientExe } from '../helpers/exe.js';
import type { LinuxExe } from '../helpers/exe.js';
import { skipUnlessTool } from '../helpers/skip.js';
import { servedProject } from '../support/world.js';

before(async () => {
  await freshExecutable('linux-x64');
});

const served = servedProject();

test('the environment the executable runs in has no node', () => {
  const r = spawnSync('/bin/sh', ['-c', 'command -v node'], { env: envWithoutNode(), encoding: 'utf8' });
  assert.notEqual(r.status, 0, `node found on the PATH: ${r.stdout}`);
  assert.equal(envWithoutNode().NODE_OPTIONS, undefined);
});

test('--version and --help work; the help lists the client commands only', async () => {
  const version = await runClientExe(['--version']);
  assert.equal(version.code, EXIT.ok, version.stderr);
  assert.match(version.stdout, /^notsotuf \d+\.\d+\.\d+/);
  const help = await runClientExe(['--help']);
  assert.equal(help.code, EXIT.ok, help.stderr);
  for (const c of CLIENT_COMMANDS) assert.match(help.stdout, new RegExp(`^  ${c.path.join(' ')} `, 'm'));
  for (const c of PUBLISHER_COMMANDS)
    assert.doesNotMatch(help.stdout, new RegExp(`^  ${c.path.join(' ')} `, 'm'));
  const checkHelp = await runClientExe(['check', '--help']);
  assert.equal(checkHelp.code, EXIT.ok);
  assert.match(checkHelp.stdout, /--config/);
  assert.equal(help.stderr, '', 'no SEA warning or other noise on stderr');
});

test(
  'the linux-arm64 executable (under qemu-user here) reports its version and lists the client commands',
  { skip: skipUnlessTool(arm64ExeMissing()), timeout: 300_000 },
  async () => {
    const version = await runClientExe(['--version'], { platform: 'linux-arm64' });
    assert.equal(version.code, EXIT.ok, version.stderr);
    assert.match(version.stdout, /^notsotuf \d+\.\d+\.\d+/);
    const help = await runClientExe(['--help'], { platform: 'linux-arm64' });
    for (const c of CLIENT_COMMANDS) assert.match(help.stdout, new RegExp(`^  ${c.path.join(' ')} `, 'm'));
    assert.equal(help.stderr, '', 'no SEA warning or other noise on stderr');
  },
);

test('publisher commands are absent from the executable (usage error, exit 2)', async () => {
  for (const args of [['init'], ['release', 'add', 'x'], ['keys', 'generate'], ['sign', 'root'], ['serve']]) {
    const r = await runClientExe(args);
    assert.equal(r.code, EXIT.usage, args.join(' '));
    assert.match(r.stderr, /unknown command/, args.join(' '));
  }
});

async function checkAndUpdate(platform: LinuxExe): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'notsotuf-exe-'));
  try {
    const installDir = join(root, 'app');
    await mkdir(installDir);
    await installVersion(served.project, '1.0.0', installDir);
    const config = await writeCliConfig(join(root, 'update.json'), {
      ...clientOptions(served.project, served.server.url, 'app', 'state'),
      trustedRoot: relative(root, join(served.project.config.repository, 'metadata', '1.root.json')),
    });
    const check = await runClientExe(['check', '--config', config, '--json'], { platform });
    assert.equal(check.code, EXIT.updateAvailable, check.stderr);
    const plan = JSON.parse(check.stdout) as Record<string, unknown>;
    assert.equal(plan.status, 'available');
    assert.equal(plan.version, '1.1.0');
    assert.equal(plan.kind, 'patches');

    const update = await runClientExe(['update', '--config', config, '--yes'], { cwd: root, platform });
    assert.equal(update.code, EXIT.updated, update.stderr);
    assert.match(update.stdout, /1\.0\.0 -> 1\.1\.0/);
    assert.deepEqual(await hashFolderAsTar(installDir), served.project.releases[1]?.result.tar);

    const again = await runClientExe(['check', '--config', config, '--current-version', '1.1.0'], {
      platform,
    });
    assert.equal(again.code, EXIT.ok, again.stderr);
    assert.match(again.stdout, /up to date/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

test('check finds the update (exit 10), update installs it by patches (exit 11), then check says up to date', () =>
  checkAndUpdate('linux-x64'));

test(
  'the linux-arm64 executable (under qemu-user here) checks and installs the update by patches',
  { skip: skipUnlessTool(arm64ExeMissing()), timeout: 600_000 },
  () => checkAndUpdate('linux-arm64'),
);
