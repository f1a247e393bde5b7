/**
 * Fault: the installer (the POSIX script the app starts before it exits) is killed with SIGKILL
 * while it waits for the app to exit, and between its two renames (install folder moved to the
 * backup, new version not yet moved in). The next start must find a consistent install (the old
 * version, never a mix or nothing) and the next update must succeed.
 *
 * Pausing the real script between its renames, deterministically and without a test hook in it:
 * the script the client wrote is run again under a wrapper shell that defines `mv` as a shell
 * function (functions win over PATH, which the script resets): the second call writes a marker and
 * sleeps, and the test SIGKILLs the whole process group there.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor, waitForResult, exitedPid } from '../support/fixture.js';
import { blocker, exited, pidsWithArg, topPidsWithArg } from './processes.js';
import type { Install } from '../support/world.js';
import { folderDigest, holdsVersion, servedProject, unfinished } from '../support/world.js';

const linux = process.platform === 'linux';

const served = servedProject();

/** Stages 1.1.0 and starts the real installer, which waits for a live process; returns it all. */
async function handOverWaiting(inst: Install): Promise<{ script: string; app: ReturnType<typeof blocker> }> {
  const app = blocker();
  const client = inst.client({ waitTimeoutSeconds: 60 });
  const update = await client.check();
  if (update.kind === 'none') assert.fail('an update is offered');
  const staged = await client.install(update, { restart: false, pid: app.pid! });
  const { script, log } = await staged.quitAndInstall();
  await waitFor('the installer to wait for the app', async () =>
    (await readFile(log, 'utf8')).includes('waiting for process') ? true : undefined,
  );
  return { script, app };
}

async function killInstaller(script: string): Promise<void> {
  const pids = await topPidsWithArg(script);
  assert.equal(pids.length, 1, `one installer process runs ${script}`);
  process.kill(pids[0]!, 'SIGKILL');
  await waitFor('the installer to die', async () =>
    (await pidsWithArg(script)).length === 0 ? true : undefined,
  );
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/**
 * Runs the very script the client wrote again (its first run was killed while waiting), under a
 * wrapper shell whose `mv` function stops before the move for which the shell condition `pauseIf`
 * holds (it sees mv's arguments and the script's variables); lets the "app" exit; and
 * SIGKILLs the script's whole process group once it has stopped there.
 */
async function runPausedAt(
  inst: Install,
  script: string,
  app: ReturnType<typeof blocker>,
  pauseIf: string,
): Promise<void> {
  const wrapper = join(inst.root, 'pause-mv.sh');
  const marker = join(inst.root, 'paused');
  await writeFile(
    wrapper,
    [
      'mv() {',
      // The script's own variables are visible here: the test names the move to stop before.
      '  if eval "$PAUSE_IF"; then',
      '    : >"$PAUSE_MARKER"',
      '    while :; do sleep 1; done',
      '  fi',
      '  command mv "$@"',
      '}',
      '. "$1"',
      '',
    ].join('\n'),
  );
  const sh = spawn('/bin/sh', [wrapper, script], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, PAUSE_MARKER: marker, PAUSE_IF: pauseIf },
  });
  app.kill('SIGKILL');
  await exited(app);
  await waitFor(`the installer to reach the move (${pauseIf})`, async () =>
    (await exists(marker)) ? true : undefined,
  );
  process.kill(-sh.pid!, 'SIGKILL');
  await exited(sh);
}

/** The next update from 1.0.0 runs to the end and leaves nothing behind. */
async function nextUpdateSucceeds(inst: Install): Promise<void> {
  const client = inst.client();
  const update = await client.check();
  assert.notEqual(update.kind, 'none', 'the next start offers the update again');
  if (update.kind === 'none') return;
  const staged = await client.install(update, { restart: false, pid: await exitedPid() });
  await staged.quitAndInstall();
  assert.equal((await waitForResult(inst.stateDir)).outcome, 'installed');
  assert.ok(await holdsVersion(served.project, inst.installDir, '1.1.0'));
  assert.deepEqual(await inst.client({ currentVersion: '1.1.0' }).check(), { kind: 'none' });
  assert.deepEqual(await unfinished(inst.root), []);
}

test(
  'SIGKILL of the installer while it waits for the app: the old version stays, and the next start offers the update again',
  { skip: !linux && 'needs /proc (Linux)' },
  async () => {
    const inst = await served.install('kill-installer-wait');
    try {
      const appBefore = await folderDigest(inst.installDir);
      const { script, app } = await handOverWaiting(inst);
      await killInstaller(script);
      app.kill('SIGKILL');
      await exited(app);
      assert.deepEqual(await folderDigest(inst.installDir), appBefore, 'nothing was moved');
      // The installer's pid file names a process that is gone: the next start settles at once.
      assert.ok(await exists(join(inst.stateDir, 'handover', 'installer.pid')));
      await nextUpdateSucceeds(inst);
    } finally {
      await inst.cleanup();
    }
  },
);

test(
  'SIGKILL of the installer between its two renames: the next start restores the old version and the next update succeeds',
  { skip: !linux && 'needs /proc (Linux)' },
  async () => {
    const inst = await served.install('kill-installer-swap');
    try {
      const appBefore = await folderDigest(inst.installDir);
      const { script, app } = await handOverWaiting(inst);
      await killInstaller(script);
      // Stop before `mv "$STAGING_DIR" "$INSTALL_DIR"`: the install folder is already the backup.
      await runPausedAt(inst, script, app, '[ "$1" = "$STAGING_DIR" ]');
      assert.equal(await exists(inst.installDir), false, 'killed with the install folder moved aside');
      assert.equal(await exists(`${inst.installDir}.notsotuf-backup-1.0.0`), true);

      // The next start (of whatever runs the client: the app folder is gone) puts the old version back.
      const client = inst.client();
      await client.check();
      assert.deepEqual(await folderDigest(inst.installDir), appBefore, 'the old version, byte for byte');
      assert.equal(client.lastHandover?.outcome, 'failed');
      assert.match(client.lastHandover?.reason ?? '', /interrupted during the swap/);
      await nextUpdateSucceeds(inst);
    } finally {
      await inst.cleanup();
    }
  },
);

test(
  'SIGKILL of the installer after the swap, before it writes its result: the new version is in place and whole, and the next update succeeds',
  { skip: !linux && 'needs /proc (Linux)' },
  async () => {
    const inst = await served.install('kill-installer-result');
    try {
      const { script, app } = await handOverWaiting(inst);
      await killInstaller(script);
      // Stop before `mv -f "$RESULT.tmp" "$RESULT"`: swapped, backup removed, no result yet.
      await runPausedAt(inst, script, app, '[ "$3" = "$RESULT" ]');
      assert.ok(await holdsVersion(served.project, inst.installDir, '1.1.0'), 'the new version, whole');
      assert.equal(await exists(`${inst.installDir}.notsotuf-backup-1.0.0`), false);
      // The new version starts, confirms, and is offered the next release.
      const v11 = inst.client({ currentVersion: '1.1.0' });
      assert.deepEqual(await v11.check(), { kind: 'none' });
      await served.project.publish('1.2.0');
      const client = inst.client({ currentVersion: '1.1.0' });
      const update = await client.check();
      assert.notEqual(update.kind, 'none');
      if (update.kind === 'none') return;
      assert.equal(update.version, '1.2.0');
      const staged = await client.install(update, { restart: false, pid: await exitedPid() });
      await staged.quitAndInstall();
      assert.equal((await waitForResult(inst.stateDir)).outcome, 'installed');
      assert.ok(await holdsVersion(served.project, inst.installDir, '1.2.0'));
    } finally {
      await inst.cleanup();
    }
  },
);
