/**
 * The Windows installer run for real under Wine: Windows Node runs app v1, which calls the real
 * startHandover (transpiled to JS) with its own pid and exits; the generated batch script waits,
 * swaps the folders, starts v2 hidden through its runner, and v2 confirms (or crashes and is rolled
 * back). Wine lets a running program's folder be moved, so the test checks by itself that v1 had
 * exited before the swap: v1 notes which version the install folder holds just before it exits.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { HandoverPlan, HandoverResult } from '../../src/client/handover.js';
import { parseHandoverResult } from '../../src/client/handover.js';
import type { Wine } from '../helpers/wine.js';
import {
  startWine,
  transpileForWindows,
  winPath,
  wineMajorVersion,
  wineSkipReason,
} from '../helpers/wine.js';
import type { AppMode, RunRecord } from '../support/handover-app.js';
import { readRuns, setImmutable, writeHandoverApp } from '../support/handover-app.js';
import { trickyTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';
import { skipTestUnlessTool, skipUnlessTool } from '../helpers/skip.js';

const skip = skipUnlessTool(wineSkipReason());
if (skip) console.log(`# skipping the Wine tests: ${skip}`);

/**
 * Arguments for Windows. `!` only from Wine 10 on: Wine 8's cmd expands `!name!` inside values again
 * (real Windows and Wine 10 keep it; see install.windows.ts).
 */
const WINDOWS_ARGS = [
  ...(skip || wineMajorVersion() < 10 ? [] : ['bang! !PATH! a!b']),
  'plain',
  'with space',
  "it's",
  'say "hi"',
  '$HOME',
  '%PATH%',
  'ünïcödé €',
  '',
  'back\\slash\\',
  'amp & pipe | lt < gt > caret ^',
  'C:\\Program Files\\x',
];

let wine: Wine | undefined;
let root = '';
let removeRoot: () => Promise<void> = () => Promise.resolve();

before(async () => {
  if (skip) return;
  const t = await trickyTempDir('notsotuf wine');
  root = t.dir;
  removeRoot = t.remove;
  // install.ts and every module it imports (transpileForWindows follows the imports).
  await transpileForWindows(['src/client/install.ts'], join(root, 'lib'));
  wine = await startWine();
});

/** Folders made immutable by a test, cleared before the temp folder is removed. */
const immutable: string[] = [];

after(async () => {
  for (const path of immutable) setImmutable(path, false);
  await wine?.stop();
  await removeRoot();
});

interface ScenarioOptions {
  healthTimeoutSeconds?: number;
  waitTimeoutSeconds?: number;
  /** How long v1 stays alive after starting the installer. */
  lingerMs?: number;
  /** Make the staging folder impossible to move (chattr +i). */
  lockStaging?: boolean;
}

async function scenario(name: string, newMode: AppMode, options: ScenarioOptions = {}) {
  const { healthTimeoutSeconds = 40, waitTimeoutSeconds = 30, lingerMs = 0, lockStaging = false } = options;
  const w = wine!;
  const base = join(root, name);
  const runsDir = join(base, 'runs');
  await mkdir(runsDir, { recursive: true });
  const installDir = join(base, 'Mÿ App');
  const stateDir = join(base, 'state dir');
  const plan: HandoverPlan = {
    appName: 'myapp',
    version: '2.0',
    previousVersion: '1.0',
    installDir: winPath(installDir),
    stagingDir: winPath(`${installDir}.staging-2.0`),
    backupDir: winPath(`${installDir}.backup-1.0`),
    pid: 0,
    restart: {
      command: winPath(w.nodeExe),
      args: [winPath(join(installDir, 'app.mjs')), ...WINDOWS_ARGS],
      cwd: winPath(base),
    },
    stateDir: winPath(stateDir),
    healthTimeoutSeconds,
    waitTimeoutSeconds,
  };
  const confirmFile = `${plan.stateDir}\\handover\\confirmed-2.0`;
  await writeHandoverApp(installDir, { version: '1.0', mode: 'run', runsDir: winPath(runsDir) }, false);
  await writeHandoverApp(
    `${installDir}.staging-2.0`,
    { version: '2.0', mode: newMode, runsDir: winPath(runsDir), confirmFile },
    false,
  );
  if (lockStaging) {
    // A rename of an immutable folder fails even for root: Wine's move then reports an error, as
    // Windows does for a folder with a file in use.
    if (!setImmutable(`${installDir}.staging-2.0`, true)) return undefined;
    immutable.push(`${installDir}.staging-2.0`);
  }
  const planFile = join(base, 'plan.json');
  await writeFile(planFile, JSON.stringify(plan));
  const startDir = join(base, 'v1 running');
  await writeHandoverApp(startDir, {
    version: '1.0',
    mode: 'start-handover',
    runsDir: winPath(runsDir),
    planFile: winPath(planFile),
    lingerMs,
    installModule: winPath(join(root, 'lib', 'src', 'client', 'install.js')),
  });

  // v1 starts the installer and exits; `wine` returns when node.exe has exited. Its cwd is the install
  // folder, as for an app started from a shortcut (the installer must not keep it).
  const v1 = w.run([winPath(w.nodeExe), winPath(join(startDir, 'app.mjs'))], { cwd: installDir });
  // A v1 that outlives the wait is left to wineserver -k at the end.
  if (lingerMs < waitTimeoutSeconds * 1000) assert.equal(await v1, 0, 'app v1 ran');
  const resultFile = join(stateDir, 'handover', 'result.json');
  const result: HandoverResult = await waitFor(
    'result.json',
    async () => (existsSync(resultFile) ? parseHandoverResult(await readFile(resultFile)) : undefined),
    90,
  );
  const log = await readFile(join(stateDir, 'handover', 'install.log'), 'latin1');
  return { installDir, stateDir, runsDir, result, log };
}

/** The run of v1 that the installer started after a roll back; on time out, the logs say why. */
async function restartedV1(s: { runsDir: string; stateDir: string; log: string }): Promise<RunRecord> {
  try {
    return await waitFor(
      'v1 to run again',
      async () => (await readRuns(s.runsDir)).runs.find((r) => r.version === '1.0' && r.handover === '1'),
      60,
    );
  } catch (error) {
    const log = await readFile(join(s.stateDir, 'handover', 'install.log'), 'latin1').catch(() => s.log);
    const output = await readFile(join(s.stateDir, 'handover', 'app-output.log'), 'latin1').catch(() => '');
    throw new Error(`${String(error)}\ninstall.log:\n${log}\napp-output.log:\n${output}`);
  }
}

test(
  'Wine: v1 starts the batch installer and exits; it waits, swaps, starts v2 with its arguments, v2 confirms',
  { skip },
  async () => {
    const s = (await scenario('ok', 'confirm', { lingerMs: 20_000 }))!;
    assert.deepEqual(s.result, { outcome: 'installed', version: '2.0', previousVersion: '1.0' }, s.log);
    assert.equal(await readFile(join(s.installDir, 'VERSION'), 'utf8'), '2.0');
    assert.equal(existsSync(`${s.installDir}.backup-1.0`), false, 'backup removed');
    assert.equal(existsSync(`${s.installDir}.staging-2.0`), false);

    const { runs, exits } = await readRuns(s.runsDir);
    assert.equal(exits.length, 1);
    assert.equal(
      exits[0]!.sawVersion,
      '1.0',
      'the install folder still held 1.0 when v1 exited: the swap came after',
    );
    const v2 = runs.filter((r) => r.version === '2.0');
    assert.equal(v2.length, 1, s.log);
    assert.deepEqual(v2[0]!.args, WINDOWS_ARGS);
    assert.equal(v2[0]!.handover, '1');

    assert.ok(
      s.log.indexOf('has exited') >= 0 && s.log.indexOf('has exited') < s.log.indexOf('swapped'),
      s.log,
    );
    // v1 lingered 20 s after starting the script (8 s was too little when the machine was loaded
    // and Wine took that long to start cmd.exe): the script's own wait saw it running (wmic on Wine 8).
    const waited = /has exited after about (\d+) s/.exec(s.log);
    assert.ok(waited && Number(waited[1]) >= 1, s.log);
    assert.match(s.log, /the new version confirmed/);
    // The result is written just before the self-delete.
    const script = join(s.stateDir, 'handover', 'install.cmd');
    await waitFor(
      'the script to delete itself',
      () => Promise.resolve(existsSync(script) ? undefined : true),
      10,
    );
  },
);

test(
  'Wine: a v2 that hangs without confirming is stopped after the timeout and rolled back',
  { skip },
  async () => {
    const s = (await scenario('hang', 'hang', { healthTimeoutSeconds: 4 }))!;
    assert.equal(s.result.outcome, 'rolled-back', s.log);
    assert.equal(s.result.reason, 'the new version did not confirm within 4 s');
    assert.match(s.log, /stopped the new version, pid \d+/);
    assert.equal(await readFile(join(s.installDir, 'VERSION'), 'utf8'), '1.0');
    await restartedV1(s);
  },
);

test('Wine: a v2 that crashes at start is rolled back and v1 runs again', { skip }, async () => {
  const s = (await scenario('crash', 'crash'))!;
  assert.equal(s.result.outcome, 'rolled-back', s.log);
  assert.equal(s.result.reason, 'the new version exited with code 3 before confirming');
  assert.equal(await readFile(join(s.installDir, 'VERSION'), 'utf8'), '1.0');
  assert.equal(existsSync(`${s.installDir}.failed-2.0`), false);
  assert.match(s.log, /the app exited with code 3/);
  const again = await restartedV1(s);
  assert.deepEqual(again.args, WINDOWS_ARGS);
});

test(
  'Wine: a staging folder that cannot be moved is retried, then the old version is put back and nothing starts',
  { skip },
  async (t) => {
    const s = await scenario('locked', 'confirm', { lockStaging: true });
    if (s === undefined) {
      skipTestUnlessTool(t, 'chattr +i is not available here');
      return;
    }
    assert.equal(s.result.outcome, 'failed', s.log);
    assert.equal(s.result.reason, 'could not move the new version into place');
    assert.match(s.log, /a file may be in use: retrying/);
    assert.match(s.log, /after 5 tries/);
    assert.equal(await readFile(join(s.installDir, 'VERSION'), 'utf8'), '1.0');
    assert.equal(existsSync(`${s.installDir}.backup-1.0`), false, 'the backup was moved back');
    const { runs } = await readRuns(s.runsDir);
    assert.equal(runs.filter((r) => r.handover === '1').length, 0, 'nothing was restarted');
  },
);

test(
  'Wine: an app that does not exit in time: the installer gives up and nothing is moved',
  { skip },
  async () => {
    const s = (await scenario('no-exit', 'confirm', { waitTimeoutSeconds: 2, lingerMs: 60_000 }))!;
    assert.deepEqual(
      s.result,
      { outcome: 'failed', version: '2.0', previousVersion: '1.0', reason: 'the app did not exit in time' },
      s.log,
    );
    assert.equal(await readFile(join(s.installDir, 'VERSION'), 'utf8'), '1.0');
    assert.equal(await readFile(join(`${s.installDir}.staging-2.0`, 'VERSION'), 'utf8'), '2.0');
    assert.match(s.log, /is still running: nothing was changed/);
    const { runs } = await readRuns(s.runsDir);
    assert.equal(runs.filter((r) => r.handover === '1').length, 0, 'nothing was started');
  },
);
