import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import type { RepoConfig } from '../../src/repo/config.js';
import { initRepository } from '../../src/repo/init.js';
import type { AddReleaseResult } from '../../src/repo/release.js';
import { addRelease } from '../../src/repo/release.js';
import { cli, cliProcess } from '../helpers/cli.js';
import { pseudoRandom, readLog, waitFor, waitForResult } from '../support/fixture.js';
import { startTestServer } from '../support/test-server.js';
import type { TestServer } from '../support/test-server.js';

/**
 * The whole life of an app in another language, with real processes and the POSIX installer: a
 * shell-script app is put in place by `notsotuf install`, runs, calls `update --restart` and exits;
 * the installer swaps, restarts it as the new version, which runs `notsotuf confirm`. A version that
 * crashes at start is rolled back, the previous version restarted, and the crashing one is never
 * offered again.
 */

const BIN = fileURLToPath(new URL('../../src/cli/bin.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

let dir: string;
let config: RepoConfig;
let server: TestServer;
const published = new Map<string, AddReleaseResult>();

/** The app: a POSIX shell script that logs, confirms when the installer started it, and updates. */
function appScript(version: string, crash: boolean): string {
  return `#!/bin/sh
# demo shell app ${version}
echo "run ${version} handover=\${NOTSOTUF_HANDOVER:-} args=$*" >>"$DEMO_LOG"
${crash ? `echo "crash ${version}" >>"$DEMO_LOG"\nexit 3\n` : ''}notsotuf() {
  "$DEMO_NODE" --import "$DEMO_TSX" "$DEMO_BIN" "$@"
}
if [ "\${NOTSOTUF_HANDOVER:-}" = 1 ]; then
  notsotuf confirm --config "$DEMO_CONFIG" --json >>"$DEMO_LOG" 2>/dev/null
  echo "confirm ${version} exit $?" >>"$DEMO_LOG"
fi
notsotuf update --config "$DEMO_CONFIG" --yes --restart --json >>"$DEMO_LOG" 2>/dev/null
echo "update ${version} exit $?" >>"$DEMO_LOG"
`;
}

async function publish(version: string, crash = false): Promise<void> {
  const folder = join(dir, 'builds', version);
  await mkdir(join(folder, 'lib'), { recursive: true });
  await writeFile(join(folder, 'app.sh'), appScript(version, crash));
  await chmod(join(folder, 'app.sh'), 0o755);
  const data = pseudoRandom(128 * 1024, 7);
  pseudoRandom(32, Number(version.split('.')[1]) + 1).copy(data, 5000);
  await writeFile(join(folder, 'lib', 'data.bin'), data);
  published.set(version, await addRelease(config, version, folder));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'notsotuf-cli-restart-'));
  config = await initRepository(join(dir, 'publisher'), { app: 'shellapp' });
  server = await startTestServer({ root: config.repository });
});

after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** Starts the installed app as a user would, and waits for that first process to exit. */
function runApp(installDir: string, env: Record<string, string>): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(installDir, 'app.sh'), [], {
      cwd: installDir,
      env: { ...process.env, ...env, NOTSOTUF_HANDOVER: '' },
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('exit', resolve);
  });
}

test('install, run, update --restart, restarted as the new version which confirms; a crashing version rolls back', async () => {
  await publish('1.0.0');
  const home = join(dir, 'user');
  const installDir = join(home, 'shellapp');
  const stateDir = `${installDir}.notsotuf-state`;
  const updateJson = join(home, 'update.json');
  await mkdir(home, { recursive: true });
  await writeFile(
    updateJson,
    JSON.stringify({
      appName: 'shellapp',
      installDir: 'shellapp',
      metadataUrl: `${server.url}/metadata`,
      targetsUrl: `${server.url}/targets`,
      trustedRoot: join(config.repository, 'metadata', '1.root.json'),
      command: ['app.sh', 'restarted by the installer'],
      healthTimeoutSeconds: 60,
      waitTimeoutSeconds: 120,
    }),
  );
  const log = join(home, 'app.log');
  const env = {
    DEMO_LOG: log,
    DEMO_CONFIG: updateJson,
    DEMO_NODE: process.execPath,
    DEMO_TSX: TSX,
    DEMO_BIN: BIN,
  };

  // 1. First install.
  const installed = await cliProcess(['install', '--config', updateJson, '--json']);
  assert.equal(installed.code, EXIT.ok, installed.stderr);
  assert.equal((JSON.parse(installed.stdout) as { version: string }).version, '1.0.0');
  assert.deepEqual(await hashFolderAsTar(installDir), published.get('1.0.0')?.tar);

  // 2. 1.1.0 is published; 1.0.0 runs, hands over and exits; 1.1.0 is started and confirms.
  await publish('1.1.0');
  assert.equal(await runApp(installDir, env), 0);
  const handedOver = (await readLog(log)).find((l) => l.includes('"handed-over"'));
  assert.ok(handedOver, (await readLog(log)).join('\n'));
  const ho = JSON.parse(handedOver) as Record<string, unknown>;
  assert.equal(ho.previousVersion, '1.0.0');
  assert.equal(ho.version, '1.1.0');
  assert.equal(ho.via, 'patches');
  assert.equal(typeof ho.waitPid, 'number');
  assert.equal((await waitForResult(stateDir, 180)).outcome, 'installed');
  await waitFor(
    '1.1.0 to finish its own update check',
    async () => ((await readLog(log)).includes('update 1.1.0 exit 0') ? true : undefined),
    120,
  );
  const lines = await readLog(log);
  assert.ok(lines.includes('update 1.0.0 exit 11'), lines.join('\n'));
  assert.ok(lines.includes('run 1.1.0 handover=1 args=restarted by the installer'), lines.join('\n'));
  assert.ok(lines.includes('{"status":"confirmed","version":"1.1.0"}'), lines.join('\n'));
  assert.ok(lines.includes('confirm 1.1.0 exit 0'), lines.join('\n'));
  assert.deepEqual(await hashFolderAsTar(installDir), published.get('1.1.0')?.tar);
  const upToDate = await cli(['check', '--config', updateJson, '--json']);
  assert.equal(upToDate.code, EXIT.ok, upToDate.stderr);
  assert.equal((JSON.parse(upToDate.stdout) as { currentVersion: string }).currentVersion, '1.1.0');

  // 3. 1.2.0 crashes at start: rolled back to 1.1.0, which is restarted; 1.2.0 is never offered again.
  await publish('1.2.0', true);
  await writeFile(log, '');
  assert.equal(await runApp(installDir, env), 0);
  const result = await waitForResult(stateDir, 180);
  assert.equal(result.outcome, 'rolled-back');
  assert.match(result.reason ?? '', /exited with code 3 before confirming/);
  await waitFor(
    'the restored 1.1.0 to finish its update check',
    async () => ((await readLog(log)).includes('update 1.1.0 exit 0') ? true : undefined),
    120,
  );
  const after = await readLog(log);
  assert.ok(after.includes('crash 1.2.0'), after.join('\n'));
  assert.ok(after.includes('run 1.1.0 handover=1 args=restarted by the installer'), after.join('\n'));
  // the restored version cannot confirm the one that was rolled back
  assert.ok(after.includes('confirm 1.1.0 exit 2'), after.join('\n'));
  assert.deepEqual(await hashFolderAsTar(installDir), published.get('1.1.0')?.tar);
  const check = await cli(['check', '--config', updateJson, '--json']);
  assert.equal(check.code, EXIT.ok, check.stdout + check.stderr);
  assert.equal((JSON.parse(check.stdout) as { status: string }).status, 'none');
  const state = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8')) as { skipped: string[] };
  assert.deepEqual(state.skipped, ['1.2.0']);
});
