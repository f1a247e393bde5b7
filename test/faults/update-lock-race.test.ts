/**
 * Two instances of the same app (a user who opened it twice), as two real processes sharing one
 * install and state folder. The first is stopped inside its update, holding the update lock, at a
 * point the test observes: it has rebuilt the new version's tar in work/ and is about to unpack it.
 * - The second one's update must be refused (InstallError UPDATE_IN_PROGRESS) instead of running
 *   beside it (same work/ folder, same staging folder).
 * - The second one's start-up clean-up must leave the first one's files alone (it removes work/,
 *   staging folders and tars it thinks are leftovers), so the first one still finishes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { exitedPid, TSX_LOADER, waitFor } from '../support/fixture.js';
import type { RaceOutcome, RaceSettings } from './lock-race-child.js';
import { exited } from './processes.js';
import type { Install } from '../support/world.js';
import { servedProject } from '../support/world.js';

const CHILD = fileURLToPath(new URL('./lock-race-child.ts', import.meta.url));

const served = servedProject();

interface Running {
  readonly done: Promise<RaceOutcome>;
}

async function start(
  inst: Install,
  name: string,
  settings: Omit<RaceSettings, 'options' | 'pid' | 'out'>,
): Promise<Running> {
  const full: RaceSettings = {
    ...settings,
    options: inst.options,
    pid: await exitedPid(),
    out: join(inst.root, `${name}.out.json`),
  };
  const file = join(inst.root, `${name}.settings.json`);
  await writeFile(file, JSON.stringify(full));
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CHILD, file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = exited(child).then(async ({ code, signal }) => {
    assert.equal(code, 0, `${name} exited ${code ?? signal}: ${stderr}`);
    return JSON.parse(await readFile(full.out, 'utf8')) as RaceOutcome;
  });
  return { done };
}

/** Starts the first instance and waits until it stands still, holding the lock, before unpacking. */
async function firstHeldBeforeUnpack(inst: Install): Promise<{ first: Running; go: () => Promise<void> }> {
  const paused = join(inst.root, 'first.paused');
  const go = join(inst.root, 'first.go');
  const first = await start(inst, 'first', { action: 'install', pauseAt: 'unpack', paused, go });
  await waitFor(
    'the first instance to reach the unpack stage',
    async () => ((await stat(paused).catch(() => undefined)) === undefined ? undefined : true),
    120,
  );
  // What the second instance must not touch: the new tar, built and not yet unpacked.
  await stat(join(inst.stateDir, 'work', '1.1.0.tar'));
  return { first, go: () => writeFile(go, '') };
}

test('two instances: the second one updating while the first holds the update lock is refused (UPDATE_IN_PROGRESS); the first finishes', async () => {
  const inst = await served.install('lock-race-install');
  let running: Running | undefined;
  let done = false;
  try {
    const { first, go } = await firstHeldBeforeUnpack(inst);
    running = first;
    let second: RaceOutcome;
    try {
      second = await (await start(inst, 'second', { action: 'install' })).done;
    } finally {
      await go();
    }
    assert.equal(second.ok, false, `the second update ran beside the first: ${JSON.stringify(second)}`);
    if (!second.ok) {
      assert.equal(second.name, 'InstallError', second.message);
      assert.equal(second.code, 'UPDATE_IN_PROGRESS', second.message);
    }
    assert.deepEqual(await first.done, { ok: true, kind: 'patches', version: '1.1.0' });
    done = true;
  } finally {
    // On a failure above, still let the first instance end before its folder goes.
    if (!done) await running?.done.catch(() => undefined);
    await inst.cleanup();
  }
});

test('two instances: the second one starting while the first holds the update lock leaves its work alone; the first finishes', async () => {
  const inst = await served.install('lock-race-cleanup');
  let running: Running | undefined;
  let done = false;
  try {
    const { first, go } = await firstHeldBeforeUnpack(inst);
    running = first;
    let second: RaceOutcome;
    try {
      second = await (await start(inst, 'second', { action: 'check' })).done;
      // The second start's clean-up ran (check settles first) and must have skipped the held state.
      await stat(join(inst.stateDir, 'work', '1.1.0.tar'));
    } finally {
      await go();
    }
    assert.deepEqual(second, { ok: true, kind: 'patches' });
    assert.deepEqual(await first.done, { ok: true, kind: 'patches', version: '1.1.0' });
    done = true;
  } finally {
    // On a failure above, still let the first instance end before its folder goes.
    if (!done) await running?.done.catch(() => undefined);
    await inst.cleanup();
  }
});
