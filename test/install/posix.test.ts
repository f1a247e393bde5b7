/**
 * The POSIX installer, run for real: a real app process, the generated /bin/sh script (dash here),
 * real renames, a real restart and health check. Paths hold spaces and non-ASCII letters.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HandoverPlan } from '../../src/client/handover.js';
import { readHandoverResult } from '../../src/client/handover.js';
import { confirmFilePath } from '../../src/client/state-layout.js';
import { startHandover } from '../../src/client/install.js';
import { InstallError } from '../../src/errors.js';
import type { AppMode } from '../support/handover-app.js';
import { TRICKY_ARGS, isAlive, readRuns, setImmutable, writeHandoverApp } from '../support/handover-app.js';
import { trickyTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';
import { skipTestUnlessTool, skipUnlessTool } from '../helpers/skip.js';

const skip = process.platform === 'win32' ? 'POSIX installer: not on Windows' : false;

interface Setup {
  root: string;
  plan: HandoverPlan;
  runsDir: string;
  remove: () => Promise<void>;
}

/** v1 installed, v2 staged beside it (in `newMode`), a state folder; the plan restarts with TRICKY_ARGS. */
async function setup(newMode: AppMode, over: Partial<HandoverPlan> = {}): Promise<Setup> {
  const { dir: root, remove } = await trickyTempDir('notsotuf install');
  const runsDir = join(root, 'runs');
  await mkdir(runsDir);
  const installDir = join(root, 'Mÿ App');
  const stateDir = join(root, 'state dir');
  const plan: HandoverPlan = {
    appName: 'myapp',
    version: '2.0',
    previousVersion: '1.0',
    installDir,
    stagingDir: join(root, 'Mÿ App.staging-2.0'),
    backupDir: join(root, 'Mÿ App.backup-1.0'),
    pid: 0,
    restart: { command: process.execPath, args: [join(installDir, 'app.mjs'), ...TRICKY_ARGS], cwd: root },
    stateDir,
    healthTimeoutSeconds: 20,
    waitTimeoutSeconds: 20,
    ...over,
  };
  const confirmFile = confirmFilePath(stateDir, plan.version);
  await writeHandoverApp(installDir, { version: '1.0', mode: 'run', runsDir });
  await writeHandoverApp(plan.stagingDir, { version: '2.0', mode: newMode, runsDir, confirmFile });
  return { root, plan, runsDir, remove };
}

/** A stand-in for the running old app: a process that exits after `ms`. */
function oldApp(ms: number): { pid: number; exited: Promise<number> } {
  const child = spawn(process.execPath, ['-e', `setTimeout(() => {}, ${ms})`], { stdio: 'ignore' });
  const exited = new Promise<number>((resolve) => child.on('exit', () => resolve(Date.now())));
  return { pid: child.pid!, exited };
}

/** A link named sh to busybox, so busybox runs as its ash shell. */
async function busyboxSh(dir: string): Promise<string> {
  const r = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' });
  const link = join(dir, 'sh');
  await symlink(r.stdout.trim(), link);
  return link;
}

function result(plan: HandoverPlan) {
  return waitFor('result.json', () => readHandoverResult(plan.stateDir));
}

async function installedVersion(plan: HandoverPlan): Promise<string> {
  return readFile(join(plan.installDir, 'VERSION'), 'utf8');
}

/** Shells that run the script: the system's sh (dash on Debian), bash (macOS's sh), busybox ash (Alpine). */
const SHELLS = [
  { label: 'sh (dash)', shell: undefined, skip },
  { label: 'bash', shell: '/bin/bash', skip },
  {
    label: 'busybox ash',
    // busybox picks its applet by the name it is started as: a link named sh.
    shell: 'busybox-sh',
    skip:
      skip ||
      skipUnlessTool(
        spawnSync('busybox', ['true']).status === 0
          ? false
          : 'busybox is not installed (.ci/run installs it)',
      ),
  },
];

for (const { label, shell, skip } of SHELLS) {
  test(
    `${label}: waits for the app that started it to exit, swaps, restarts with its arguments, the new version confirms`,
    { skip },
    async () => {
      const s = await setup('confirm');
      try {
        // The old version itself starts the installer with its own pid, lingers, then exits.
        const planFile = join(s.root, 'plan.json');
        await writeFile(planFile, JSON.stringify(s.plan));
        const startDir = join(s.root, 'v1 running');
        await writeHandoverApp(startDir, {
          version: '1.0',
          mode: 'start-handover',
          runsDir: s.runsDir,
          planFile,
          lingerMs: 1500,
          ...(shell === undefined ? {} : { shell: shell === 'busybox-sh' ? await busyboxSh(s.root) : shell }),
        });
        // The running copy lives outside the install folder only so this test can start it; it reads
        // VERSION from plan.installDir just before it exits.
        const child = spawn(process.execPath, ['--import', 'tsx', join(startDir, 'app.mjs')], {
          stdio: 'ignore',
        });
        await new Promise((resolve) => child.on('exit', resolve));

        const r = await result(s.plan);
        assert.deepEqual(r, { outcome: 'installed', version: '2.0', previousVersion: '1.0' });
        assert.equal(await installedVersion(s.plan), '2.0');
        assert.equal(existsSync(s.plan.backupDir), false, 'backup removed after the confirm');
        assert.equal(existsSync(s.plan.stagingDir), false, 'staging moved into place');

        const { runs, exits } = await readRuns(s.runsDir);
        assert.equal(exits.length, 1);
        assert.equal(
          exits[0]!.sawVersion,
          '1.0',
          'the install folder still held 1.0 when the old app exited',
        );
        const v2 = runs.filter((r) => r.version === '2.0');
        assert.equal(v2.length, 1);
        assert.deepEqual(v2[0]!.args, TRICKY_ARGS);
        assert.equal(v2[0]!.handover, '1');
        assert.equal(v2[0]!.cwd, s.root);

        // The script logged the swap no earlier than the second in which the old app exited.
        const log = await readFile(join(s.plan.stateDir, 'handover', 'install.log'), 'utf8');
        assert.match(log, /process \d+ has exited/);
        const swapLine = log.split('\n').find((l) => l.includes(' swapped: '));
        assert.ok(swapLine, log);
        const swapSecond = Date.parse(swapLine.slice(0, 20)) / 1000;
        assert.ok(
          swapSecond >= Math.floor(exits[0]!.exitAt / 1000),
          `swap at ${swapSecond}, exit at ${exits[0]!.exitAt}`,
        );
        assert.ok(log.indexOf('has exited') < log.indexOf(' swapped: '));

        // A rename keeps symlinks and modes.
        assert.equal(await readlink(join(s.plan.installDir, 'tool')), 'bin/tool.sh');
        assert.ok((await lstat(join(s.plan.installDir, 'tool'))).isSymbolicLink());
        assert.equal((await stat(join(s.plan.installDir, 'bin', 'tool.sh'))).mode & 0o777, 0o755);
        assert.equal(
          existsSync(join(s.plan.stateDir, 'handover', 'install.sh')),
          false,
          'the script removed itself',
        );
      } finally {
        await s.remove();
      }
    },
  );
}

test('a new version that crashes at start is rolled back and the old one runs again', { skip }, async () => {
  const s = await setup('crash');
  try {
    const app = oldApp(300);
    await startHandover({ ...s.plan, pid: app.pid });
    const r = await result(s.plan);
    assert.equal(r.outcome, 'rolled-back');
    assert.match(r.reason ?? '', /exited with code 3 before confirming/);
    assert.equal(await installedVersion(s.plan), '1.0');
    assert.equal(existsSync(s.plan.backupDir), false);
    assert.equal(existsSync(`${s.plan.installDir}.failed-2.0`), false, 'the failed version is removed');
    const runs = await waitFor('the old version to run again', async () => {
      const { runs } = await readRuns(s.runsDir);
      return runs.some((r) => r.version === '1.0') ? runs : undefined;
    });
    const v1 = runs.find((r) => r.version === '1.0')!;
    assert.deepEqual(v1.args, TRICKY_ARGS);
    assert.equal(v1.handover, '1');
    assert.ok(
      runs.some((r) => r.version === '2.0'),
      'the new version did start',
    );
  } finally {
    await s.remove();
  }
});

test(
  'a new version that hangs without confirming is stopped and rolled back after the timeout',
  { skip },
  async () => {
    const s = await setup('hang', { healthTimeoutSeconds: 2 });
    try {
      const app = oldApp(100);
      await startHandover({ ...s.plan, pid: app.pid });
      const r = await result(s.plan);
      assert.equal(r.outcome, 'rolled-back');
      assert.match(r.reason ?? '', /did not confirm within 2 s/);
      assert.equal(await installedVersion(s.plan), '1.0');
      const { runs } = await readRuns(s.runsDir);
      const hung = runs.find((r) => r.version === '2.0');
      assert.ok(hung);
      await waitFor(
        'the hung process to be gone',
        () => Promise.resolve(isAlive(hung.pid) ? undefined : true),
        10,
      );
    } finally {
      await s.remove();
    }
  },
);

test('an app that never exits: the wait times out cleanly and nothing is moved', { skip }, async () => {
  const s = await setup('confirm', { waitTimeoutSeconds: 1 });
  const app = oldApp(60_000);
  try {
    await startHandover({ ...s.plan, pid: app.pid });
    const r = await result(s.plan);
    assert.deepEqual(r, {
      outcome: 'failed',
      version: '2.0',
      previousVersion: '1.0',
      reason: 'the app did not exit in time',
    });
    assert.equal(await installedVersion(s.plan), '1.0');
    assert.equal(await readFile(join(s.plan.stagingDir, 'VERSION'), 'utf8'), '2.0', 'staging untouched');
    assert.equal(existsSync(s.plan.backupDir), false);
    const { runs } = await readRuns(s.runsDir);
    assert.deepEqual(runs, [], 'nothing was started');
  } finally {
    process.kill(app.pid);
    await s.remove();
  }
});

test(
  'a backup path that already exists as a non-empty folder: the swap is refused and the old version stays',
  { skip },
  async () => {
    const s = await setup('confirm');
    try {
      await mkdir(s.plan.backupDir);
      await writeFile(join(s.plan.backupDir, 'keep.txt'), 'someone else');
      const app = oldApp(100);
      await startHandover({ ...s.plan, pid: app.pid });
      const r = await result(s.plan);
      assert.equal(r.outcome, 'failed');
      assert.equal(r.reason, 'the backup path already exists');
      assert.equal(await installedVersion(s.plan), '1.0');
      assert.equal(existsSync(join(s.plan.backupDir, 'Mÿ App')), false, 'mv did not nest the app inside it');
      assert.equal(await readFile(join(s.plan.backupDir, 'keep.txt'), 'utf8'), 'someone else');
      assert.equal(await readFile(join(s.plan.stagingDir, 'VERSION'), 'utf8'), '2.0');
      const log = await readFile(join(s.plan.stateDir, 'handover', 'install.log'), 'utf8');
      assert.match(log, /already exists: nothing was changed/);
    } finally {
      await s.remove();
    }
  },
);

test('a missing staging folder: nothing is moved and the result says why', { skip }, async () => {
  const s = await setup('confirm');
  try {
    const plan = { ...s.plan, stagingDir: join(s.root, 'Mÿ App.not-there') };
    const app = oldApp(100);
    await startHandover({ ...plan, pid: app.pid });
    const r = await result(plan);
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reason, 'the staging folder is missing');
    assert.equal(await installedVersion(plan), '1.0');
  } finally {
    await s.remove();
  }
});

test(
  'a stale confirm file from an earlier attempt does not let a crashing version pass',
  { skip },
  async () => {
    const s = await setup('crash');
    try {
      await mkdir(join(s.plan.stateDir, 'handover'), { recursive: true });
      await writeFile(confirmFilePath(s.plan.stateDir, s.plan.version), '');
      const app = oldApp(100);
      await startHandover({ ...s.plan, pid: app.pid });
      const r = await result(s.plan);
      assert.equal(r.outcome, 'rolled-back');
      assert.equal(await installedVersion(s.plan), '1.0');
    } finally {
      await s.remove();
    }
  },
);

test('no restart: swaps and keeps the new version without a health check', { skip }, async () => {
  const s = await setup('crash', { restart: undefined });
  try {
    const app = oldApp(100);
    await startHandover({ ...s.plan, pid: app.pid });
    const r = await result(s.plan);
    assert.equal(r.outcome, 'installed');
    assert.equal(await installedVersion(s.plan), '2.0');
    assert.deepEqual((await readRuns(s.runsDir)).runs, []);
  } finally {
    await s.remove();
  }
});

test(
  'the new version cannot be moved into place (immutable staging folder): the old version is put back',
  { skip },
  async (t) => {
    const s = await setup('confirm');
    if (!setImmutable(s.plan.stagingDir, true)) {
      await s.remove();
      skipTestUnlessTool(t, 'chattr +i is not available here');
      return;
    }
    try {
      const app = oldApp(100);
      await startHandover({ ...s.plan, pid: app.pid });
      const r = await result(s.plan);
      assert.equal(r.outcome, 'failed');
      assert.equal(r.reason, 'could not move the new version into place');
      assert.equal(await installedVersion(s.plan), '1.0');
      assert.equal(existsSync(s.plan.backupDir), false, 'the backup was moved back');
      assert.deepEqual((await readRuns(s.runsDir)).runs, [], 'nothing was started');
      const log = await readFile(join(s.plan.stateDir, 'handover', 'install.log'), 'utf8');
      assert.match(log, /putting the previous version back/);
    } finally {
      setImmutable(s.plan.stagingDir, false);
      await s.remove();
    }
  },
);

test(
  'the install folder cannot be moved aside (immutable parent folder): nothing changes',
  { skip },
  async (t) => {
    const s = await setup('confirm');
    await mkdir(join(s.plan.stateDir, 'handover'), { recursive: true });
    if (!setImmutable(s.root, true)) {
      await s.remove();
      skipTestUnlessTool(t, 'chattr +i is not available here');
      return;
    }
    try {
      const app = oldApp(100);
      await startHandover({ ...s.plan, pid: app.pid });
      const r = await result(s.plan);
      assert.equal(r.outcome, 'failed');
      assert.equal(r.reason, 'could not move the installed version aside');
      assert.equal(await installedVersion(s.plan), '1.0');
      assert.equal(await readFile(join(s.plan.stagingDir, 'VERSION'), 'utf8'), '2.0');
    } finally {
      setImmutable(s.root, false);
      await s.remove();
    }
  },
);

test(
  'a roll back that cannot restore the backup (made immutable meanwhile) leaves the new version in place and says so',
  { skip },
  async (t) => {
    const s = await setup('hang', { healthTimeoutSeconds: 3 });
    const log = join(s.plan.stateDir, 'handover', 'install.log');
    let flagged = false;
    try {
      const app = oldApp(100);
      await startHandover({ ...s.plan, pid: app.pid });
      await waitFor('the health check to start', async () =>
        (await readFile(log, 'utf8')).includes('waiting for the new version to confirm') ? true : undefined,
      );
      flagged = setImmutable(s.plan.backupDir, true);
      if (!flagged) {
        skipTestUnlessTool(t, 'chattr +i is not available here');
        await result(s.plan);
        return;
      }
      const r = await result(s.plan);
      assert.equal(r.outcome, 'failed');
      assert.equal(
        r.reason,
        'the new version did not confirm within 3 s; the roll back could not restore the previous version from the backup folder',
      );
      assert.equal(await installedVersion(s.plan), '2.0', 'the new version is back in place, not nothing');
      assert.equal(
        await readFile(join(s.plan.backupDir, 'VERSION'), 'utf8'),
        '1.0',
        'the previous version is kept',
      );
    } finally {
      if (flagged) setImmutable(s.plan.backupDir, false);
      await s.remove();
    }
  },
);

test('an app that exited but whose parent never reaps it (a zombie) counts as exited', { skip }, async () => {
  const s = await setup('confirm', { waitTimeoutSeconds: 10 });
  // sh starts the "app" in the background, then becomes `sleep 30`, which never waits for it.
  const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 30'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const pid = Number(
      await new Promise<string>((resolve) =>
        parent.stdout.once('data', (d: Buffer) => resolve(d.toString())),
      ),
    );
    await startHandover({ ...s.plan, pid });
    const r = await result(s.plan);
    assert.equal(
      r.outcome,
      'installed',
      await readFile(join(s.plan.stateDir, 'handover', 'install.log'), 'utf8'),
    );
    assert.ok(isAlive(pid), 'the app is still a zombie: kill -0 alone would have waited for it');
  } finally {
    parent.kill();
    await s.remove();
  }
});

test(
  'one installer at a time: a second hand-over is refused while the first waits, and allowed after it finished',
  { skip },
  async () => {
    const s = await setup('confirm', { waitTimeoutSeconds: 30 });
    const app = oldApp(60_000);
    try {
      await startHandover({ ...s.plan, pid: app.pid });
      await assert.rejects(
        startHandover({ ...s.plan, pid: app.pid }),
        (e: unknown) => e instanceof InstallError && e.code === 'HANDOVER_RUNNING',
      );
      process.kill(app.pid);
      const r = await result(s.plan);
      assert.equal(r.outcome, 'installed');
      assert.equal(
        existsSync(join(s.plan.stateDir, 'handover', 'installer.pid')),
        false,
        'the script removed its pid file',
      );
      // Done: the next hand-over (here one that fails at once: nothing is staged any more) may start.
      await startHandover({ ...s.plan, pid: app.pid });
      assert.equal((await result(s.plan)).reason, 'the staging folder is missing');
    } finally {
      try {
        process.kill(app.pid);
      } catch {
        // already gone
      }
      await s.remove();
    }
  },
);
