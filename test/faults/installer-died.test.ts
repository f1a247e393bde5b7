/**
 * When the next start may settle a hand-over without waiting for its deadline: only when the
 * installer's pid file was written for this hand-over and names a process that no longer runs.
 * Real files and real processes (a pid that has exited, this process's own pid).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { installerDied } from '../../src/client/interrupted-swap.js';
import type { PendingHandover } from '../../src/client/state.js';
import { exitedPid } from '../support/fixture.js';

async function withPidFile(
  pid: number | string,
  fn: (stateDir: string, pending: PendingHandover) => Promise<void>,
  ageMs = 0,
): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'notsotuf-installer-died-'));
  try {
    await mkdir(join(stateDir, 'handover'));
    const file = join(stateDir, 'handover', 'installer.pid');
    const startedAt = Date.now();
    await writeFile(file, `${pid}\n`);
    if (ageMs > 0) await utimes(file, (startedAt - ageMs) / 1000, (startedAt - ageMs) / 1000);
    const pending: PendingHandover = {
      version: '1.1.0',
      previousVersion: '1.0.0',
      stagingDir: join(stateDir, 'staging'),
      backupDir: join(stateDir, 'backup'),
      startedAt,
      deadlineMs: 3_600_000,
    };
    await fn(stateDir, pending);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

test('a pid file of this hand-over naming an exited process: the installer died', async () => {
  await withPidFile(await exitedPid(), async (dir, p) => assert.equal(await installerDied(dir, p), true));
});

test('a pid file naming a running process: not dead (it may still be waiting for the app)', async () => {
  await withPidFile(process.pid, async (dir, p) => assert.equal(await installerDied(dir, p), false));
});

test('a pid file left by an earlier hand-over (older than this one): not taken as this installer', async () => {
  await withPidFile(
    await exitedPid(),
    async (dir, p) => assert.equal(await installerDied(dir, p), false),
    60_000,
  );
});

test('no pid file, a damaged one, or Windows (a launcher pid): not known dead', async () => {
  await withPidFile('12ab', async (dir, p) => assert.equal(await installerDied(dir, p), false));
  await withPidFile(await exitedPid(), async (dir, p) => {
    assert.equal(await installerDied(dir, p, { platform: 'win32' }), false);
    await rm(join(dir, 'handover', 'installer.pid'));
    assert.equal(await installerDied(dir, p), false);
  });
});
