import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { CLI_COMMAND, cli } from '../helpers/cli.js';
import { appFolder, tempDir } from '../repo/publisher-fixture.js';

/**
 * `notsotuf release add 1.2.0 DIR | head -1`: the reader goes away before the CLI has printed
 * everything. Like other command-line tools, the CLI must then stop printing quietly: no EPIPE stack
 * trace, the exit code of the work itself (the release was written, so 0), nothing undone.
 */
function runWithClosed(
  args: string[],
  cwd: string,
  closed: { stdout?: boolean; stderr?: boolean },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const [cmd, ...pre] = CLI_COMMAND as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...pre, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    // Closing our end of the pipe at once: every write of the child then fails with EPIPE.
    if (closed.stdout === true) child.stdout.destroy();
    else child.stdout.resume();
    if (closed.stderr === true) child.stderr.destroy();
    else child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

async function project(): Promise<string> {
  const dir = await tempDir();
  const r = await cli(['init', '--yes', '--app', 'demo'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

test('release add with stdout closed (| head -1) exits 0 without a stack trace, and the release is written', async () => {
  const dir = await project();
  const folder = await appFolder(dir, '1.0.0');
  const r = await runWithClosed(['release', 'add', '1.0.0', folder], dir, { stdout: true });
  assert.equal(r.signal, null);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at /);
  const list = await cli(['release', 'list'], { cwd: dir });
  assert.match(list.stdout, /demo 1\.0\.0/);
  // A retry by the script is refused as "not newer": the first run's work stands.
  const again = await cli(['release', 'add', '1.0.0', folder], { cwd: dir });
  assert.equal(again.code, 2);
});

test('keys list with stdout closed (| head -c1) exits 0 without a stack trace', async () => {
  const dir = await project();
  const r = await runWithClosed(['keys', 'list'], dir, { stdout: true });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at /);
});

test('a failing command with stdout and stderr closed keeps its own exit code (2 for bad usage), no crash', async () => {
  const dir = await project();
  const r = await runWithClosed(['release', 'add', '1.0.0', 'no-such-folder'], dir, {
    stdout: true,
    stderr: true,
  });
  assert.equal(r.signal, null);
  assert.equal(r.code, 2);
  const ok = await runWithClosed(['status'], dir, { stdout: true, stderr: true });
  assert.equal(ok.code, 0);
});
