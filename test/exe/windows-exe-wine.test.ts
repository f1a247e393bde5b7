/**
 * The Windows client executable (dist/exe/notsotuf-win-x64.exe, no Node in the app) under Wine:
 * `installer` writes the user's download, the executable installs the app from a repository served
 * on 127.0.0.1, checks, and the running app hands over with `update --restart`; the batch installer
 * swaps the folders and restarts the app, whose new version runs `confirm`. A version that crashes at
 * start is rolled back. The app is a batch file run by cmd.exe: nothing of it is Node.
 *
 * Wine quirk (shared/notes/single-executable.md): the executable's stdout to a Linux pipe fails with
 * EBADF, so its output goes to files. Wine also lets a running program's folder be moved, so the test
 * checks by itself that the old version had exited before the swap (it notes the exit in its log).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import type { HandoverResult } from '../../src/client/handover.js';
import { readHandoverResult } from '../../src/client/handover.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import type { RepoConfig } from '../../src/repo/config.js';
import { initRepository } from '../../src/repo/init.js';
import type { AddReleaseResult } from '../../src/repo/release.js';
import { addRelease } from '../../src/repo/release.js';
import { pseudoRandom, waitFor } from '../support/fixture.js';
import type { TestServer } from '../support/test-server.js';
import { startTestServer } from '../support/test-server.js';
import { cli } from '../helpers/cli.js';
import { freshExecutable } from '../helpers/exe.js';
import { skipUnlessTool } from '../helpers/skip.js';
import type { Wine } from '../helpers/wine.js';
import { startWine, winPath, wineSkipReason } from '../helpers/wine.js';
import { withTempDir } from '../support/temp-dir.js';

const skip = skipUnlessTool(wineSkipReason());

let wine: Wine | undefined;
let server: TestServer | undefined;

before(async () => {
  if (skip) return;
  await freshExecutable('win-x64');
  wine = await startWine();
});

after(async () => {
  await server?.close();
  await wine?.stop();
});

/** The app, version `version`: a batch file that logs, confirms when restarted by the installer, and updates. */
function appCmd(version: string, crash: boolean): string {
  return [
    '@echo off',
    `rem demo Windows app ${version}`,
    'cd /d "%~dp0"',
    `>>"%DEMO_LOG%" echo run ${version} handover=%NOTSOTUF_HANDOVER%`,
    ...(crash ? [`>>"%DEMO_LOG%" echo crash ${version}`, 'exit /b 3'] : []),
    'if not "%NOTSOTUF_HANDOVER%"=="1" goto update',
    '"%DEMO_EXE%" confirm --config "%DEMO_CONFIG%" --json >>"%DEMO_LOG%" 2>>"%DEMO_ERR%"',
    `>>"%DEMO_LOG%" echo confirm ${version} exit %errorlevel%`,
    ':update',
    '"%DEMO_EXE%" update --config "%DEMO_CONFIG%" --yes --restart --json >>"%DEMO_LOG%" 2>>"%DEMO_ERR%"',
    `>>"%DEMO_LOG%" echo update ${version} exit %errorlevel%`,
    `>>"%DEMO_LOG%" echo exiting ${version}`,
    'exit /b 0',
    '',
  ].join('\r\n');
}

async function publish(
  config: RepoConfig,
  builds: string,
  version: string,
  crash = false,
): Promise<AddReleaseResult> {
  const folder = join(builds, version);
  await mkdir(join(folder, 'lib'), { recursive: true });
  await writeFile(join(folder, 'app.cmd'), appCmd(version, crash));
  const data = pseudoRandom(128 * 1024, 11);
  pseudoRandom(32, Number(version.split('.')[1]) + 1).copy(data, 7000);
  await writeFile(join(folder, 'lib', 'data.bin'), data);
  return addRelease(config, version, folder);
}

/** The app's log, by line: cmd writes CRLF, the executable LF. */
async function readLog(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split(/\r?\n/).filter((l) => l !== '');
}

let outputs = 0;

/**
 * Runs a Windows program under Wine with its stdout and stderr in files (never a pipe) in the
 * temp folder (never in `cwd`: files added to an install folder make it match no release).
 */
async function runWindows(
  w: Wine,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const outFile = join(tmpdir(), `notsotuf-wine-out-${process.pid}-${++outputs}`);
  const errFile = `${outFile}.err`;
  const out = await open(outFile, 'w');
  const err = await open(errFile, 'w');
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn('wine', args, {
        cwd,
        env: { ...w.env, ...env },
        stdio: ['ignore', out.fd, err.fd],
      });
      child.on('error', reject);
      child.on('exit', (c) => resolve(c ?? -1));
    });
    return { code, stdout: await readFile(outFile, 'utf8'), stderr: await readFile(errFile, 'utf8') };
  } finally {
    await out.close();
    await err.close();
    await rm(outFile, { force: true });
    await rm(errFile, { force: true });
  }
}

function waitForResult(stateDir: string, previous: HandoverResult | undefined): Promise<HandoverResult> {
  return waitFor(
    'the installer result',
    async () => {
      const r = await readHandoverResult(stateDir);
      return r !== undefined && r.version !== previous?.version ? r : undefined;
    },
    300,
  );
}

test(
  'Windows exe under Wine: install, check, update --restart (swap, restart, confirm), crash rolled back',
  { skip, timeout: 20 * 60_000 },
  async () => {
    const w = wine!;
    const exe = await freshExecutable('win-x64');
    await withTempDir(async (dir) => {
      const config = await initRepository(join(dir, 'publisher'), { app: 'winapp' });
      const builds = join(dir, 'builds');
      server = await startTestServer({ root: config.repository });
      const v1 = await publish(config, builds, '1.0.0');

      // 1. The user's download, made by the publisher CLI, then the first install with the exe.
      const download = join(dir, 'download');
      const made = await cli([
        'installer',
        '--config',
        config.file,
        '--platform',
        'win-x64',
        '--base-url',
        server.url,
        '--out',
        download,
        '--exe',
        exe,
      ]);
      assert.equal(made.code, EXIT.ok, made.stderr);
      const updateJson = join(download, 'update.json');
      const settings = JSON.parse(await readFile(updateJson, 'utf8')) as Record<string, unknown>;
      // How the installer restarts this app: cmd.exe runs its batch file (a program in the app folder
      // would be an .exe; a .bat started without cmd /c would never return to the runner).
      settings.command = ['C:\\windows\\system32\\cmd.exe', '/d', '/c', 'app.cmd'];
      settings.healthTimeoutSeconds = 120;
      settings.waitTimeoutSeconds = 180;
      await writeFile(updateJson, JSON.stringify(settings, null, 2));
      const exeInDownload = winPath(join(download, 'notsotuf-win-x64.exe'));
      const install = await runWindows(
        w,
        [exeInDownload, 'install', '--config', 'update.json', '--json'],
        download,
      );
      assert.equal(install.code, EXIT.ok, install.stdout + install.stderr);
      assert.equal((JSON.parse(install.stdout) as { version: string }).version, '1.0.0');
      const installDir = join(download, 'app');
      const stateDir = `${installDir}.notsotuf-state`;
      assert.deepEqual(await hashFolderAsTar(installDir), v1.tar);

      // 2. 1.1.0 is published: check sees it; the running app hands over and exits; 1.1.0 confirms.
      const v11 = await publish(config, builds, '1.1.0');
      const check = await runWindows(
        w,
        [exeInDownload, 'check', '--config', 'update.json', '--json'],
        download,
      );
      assert.equal(check.code, EXIT.updateAvailable, check.stdout + check.stderr);
      assert.equal((JSON.parse(check.stdout) as { version: string }).version, '1.1.0');
      const log = join(dir, 'app.log');
      const env = {
        DEMO_LOG: winPath(log),
        DEMO_ERR: winPath(join(dir, 'app.err')),
        DEMO_EXE: exeInDownload,
        DEMO_CONFIG: winPath(updateJson),
        NOTSOTUF_HANDOVER: '',
      };
      const app = winPath(join(installDir, 'app.cmd'));
      const first = await runWindows(w, ['cmd', '/d', '/c', app], installDir, env);
      assert.equal(first.code, 0, `${first.stdout}${first.stderr}\n${(await readLog(log)).join('\n')}`);
      const result = await waitForResult(stateDir, undefined);
      const lines = async (): Promise<string> => {
        const files = [
          log,
          join(dir, 'app.err'),
          join(stateDir, 'handover', 'install.log'),
          join(stateDir, 'handover', 'app-output.log'),
        ];
        const texts = await Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => '(none)')));
        return files.map((f, i) => `--- ${f}\n${texts[i]}`).join('\n');
      };
      const waitForLine = async (line: string): Promise<void> => {
        try {
          await waitFor(line, async () => ((await readLog(log)).includes(line) ? true : undefined), 300);
        } catch (error) {
          throw new Error(`${(error as Error).message}\n${await lines()}`, { cause: error });
        }
      };
      assert.equal(result.outcome, 'installed', `${JSON.stringify(result)}\n${await lines()}`);
      await waitForLine('update 1.1.0 exit 0');
      const run1 = await readLog(log);
      const handedOver = run1.find((l) => l.includes('"handed-over"'));
      assert.ok(handedOver, run1.join('\n'));
      assert.equal((JSON.parse(handedOver) as { version: string }).version, '1.1.0');
      assert.ok(run1.includes('update 1.0.0 exit 11'), run1.join('\n'));
      // 1.0.0 had exited before 1.1.0 was started (Wine would not stop an early swap by itself).
      assert.ok(run1.indexOf('exiting 1.0.0') < run1.indexOf('run 1.1.0 handover=1'), run1.join('\n'));
      assert.ok(run1.includes('{"status":"confirmed","version":"1.1.0"}'), run1.join('\n'));
      assert.ok(run1.includes('confirm 1.1.0 exit 0'), run1.join('\n'));
      assert.deepEqual(await hashFolderAsTar(installDir), v11.tar);
      const upToDate = await runWindows(
        w,
        [exeInDownload, 'check', '--config', 'update.json', '--json'],
        download,
      );
      assert.equal(upToDate.code, EXIT.ok, upToDate.stdout + upToDate.stderr);
      assert.equal((JSON.parse(upToDate.stdout) as { currentVersion: string }).currentVersion, '1.1.0');

      // 3. 1.2.0 crashes at start: rolled back to 1.1.0, which is restarted; 1.2.0 is not offered again.
      await publish(config, builds, '1.2.0', true);
      await writeFile(log, '');
      const second = await runWindows(w, ['cmd', '/d', '/c', app], installDir, env);
      assert.equal(second.code, 0, await lines());
      const rolled = await waitForResult(stateDir, result);
      assert.equal(rolled.outcome, 'rolled-back', `${JSON.stringify(rolled)}\n${await lines()}`);
      assert.match(rolled.reason ?? '', /exited with code 3 before confirming/);
      await waitForLine('update 1.1.0 exit 0');
      const run2 = await readLog(log);
      assert.ok(run2.includes('crash 1.2.0'), run2.join('\n'));
      assert.ok(run2.includes('run 1.1.0 handover=1'), run2.join('\n'));
      assert.deepEqual(await hashFolderAsTar(installDir), v11.tar);
      const after = await runWindows(
        w,
        [exeInDownload, 'check', '--config', 'update.json', '--json'],
        download,
      );
      assert.equal(after.code, EXIT.ok, after.stdout + after.stderr);
      assert.equal((JSON.parse(after.stdout) as { status: string }).status, 'none');
    });
  },
);
