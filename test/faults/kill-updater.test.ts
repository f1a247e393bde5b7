/**
 * Fault: the updater process is killed with SIGKILL during the download, while the patch is being
 * applied, and while the new version is being unpacked into the staging folder. Nothing of the
 * update has touched the install folder yet, so the next start must find the old version byte for
 * byte, and the next update must succeed (resuming the download where it can) and leave nothing
 * behind once it settles.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { exitedPid, TSX_LOADER, waitForResult } from '../support/fixture.js';
import { exited } from './processes.js';
import type { ChildSettings, KillAt } from './updater-child.js';
import type { Install } from '../support/world.js';
import { folderDigest, holdsVersion, servedProject, unfinished } from '../support/world.js';

const CHILD = fileURLToPath(new URL('./updater-child.ts', import.meta.url));

const served = servedProject();

/** Runs the updater child until it kills itself at `step` (or finishes); returns what it saw. */
async function killedChild(inst: Install, step: KillAt): Promise<{ killed: boolean; marker: string }> {
  const settings: ChildSettings = {
    options: inst.options,
    killAt: step,
    marker: join(inst.root, 'marker'),
    pid: await exitedPid(),
  };
  const settingsFile = join(inst.root, 'settings.json');
  await writeFile(settingsFile, JSON.stringify(settings));
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CHILD, settingsFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const { code, signal } = await exited(child);
  assert.ok(signal === 'SIGKILL' || code === 0, `the updater failed (${code}): ${stderr}`);
  return { killed: signal === 'SIGKILL', marker: await readFile(settings.marker, 'utf8') };
}

const CASES: { step: KillAt; via: 'patches' | 'full'; seen: RegExp }[] = [
  { step: 'download', via: 'full', seen: /^download \d+\/\d+$/ },
  { step: 'source', via: 'patches', seen: /^source \d+$/ },
  { step: 'patching', via: 'patches', seen: /^patching \d+$/ },
  { step: 'unpacking', via: 'full', seen: /^unpacking \d+$/ },
];

for (const { step, via, seen: re } of CASES) {
  test(`SIGKILL of the updater during ${step}: the next start finds the old version intact and the next update succeeds`, async () => {
    // The kill must land inside the step; a step that ends between two probes is run again
    // (a fresh install each time), at most three times.
    let inst: Install | undefined;
    let appBefore: string[] = [];
    for (let attempt = 1; inst === undefined; attempt++) {
      const candidate = await served.install(`kill-${step}`, { modified: via === 'full' });
      appBefore = await folderDigest(candidate.installDir);
      const seen = await killedChild(candidate, step);
      if (seen.killed && seen.marker !== 'finished') {
        assert.match(seen.marker, re, 'the kill landed inside the step');
        inst = candidate;
      } else {
        await candidate.cleanup();
        assert.ok(attempt < 3, `the kill never landed inside the ${step} step: ${seen.marker}`);
      }
    }
    try {
      // The next start: the old version, byte for byte, whatever the kill left in the state folder.
      assert.deepEqual(await folderDigest(inst.installDir), appBefore);
      const mark = served.server.log.length;
      const client = inst.client();
      const update = await client.check();
      assert.equal(update.kind, via);
      const staged = await client.install(update, { restart: false, pid: await exitedPid() });
      if (step === 'download') {
        const resumed = served.server.log.slice(mark).filter((r) => r.path.endsWith('.tar.gz'));
        assert.equal(resumed.length, 1);
        assert.match(resumed[0]!.range ?? '', /^bytes=[1-9]\d*-$/, 'the partial download was resumed');
      }
      await staged.quitAndInstall();
      assert.equal((await waitForResult(inst.stateDir)).outcome, 'installed');
      assert.ok(await holdsVersion(served.project, inst.installDir, '1.1.0'));
      // Once the new version starts and settles, nothing of the killed run is left.
      assert.deepEqual(await inst.client({ currentVersion: '1.1.0' }).check(), { kind: 'none' });
      assert.deepEqual(await unfinished(inst.root), []);
    } finally {
      await inst.cleanup();
    }
  });
}
