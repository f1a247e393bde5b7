import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { CLI_COMMAND } from '../helpers/cli.js';
import { skipUnlessTool } from '../helpers/skip.js';
import { tempDir } from '../repo/publisher-fixture.js';

/**
 * Ctrl+D (end of input) or Ctrl+C at an interactive prompt is the person stopping: a short message,
 * a non-zero exit, nothing written. It printed "unexpected failure: AbortError" and a stack trace.
 * The CLI runs in a real pseudo-terminal (util-linux `script`), the keys are sent as a person types them.
 */
const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function promptAndSend(
  cwd: string,
  args: string[],
  key: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const command = [...CLI_COMMAND, ...args].map(quote).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd,
      env: { ...process.env, TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let sent = false;
    const onData = (d: Buffer): void => {
      output += d.toString();
      if (!sent && output.includes('App name')) {
        sent = true;
        child.stdin.write(key);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

for (const [what, key] of [
  ['Ctrl+D', '\x04'],
  ['Ctrl+C', '\x03'],
] as const) {
  test(
    `${what} at an init prompt stops with a short message, exit 2, nothing written`,
    { skip: skipUnlessTool(hasScript ? '' : 'util-linux script (a pseudo-terminal)'), timeout: 120_000 },
    async () => {
      const dir = await tempDir();
      const r = await promptAndSend(dir, ['init'], key);
      assert.equal(r.code, 2, r.output);
      assert.doesNotMatch(r.output, /unexpected failure|AbortError|\n\s+at /);
      assert.match(r.output, /stopped at the prompt: nothing was changed/);
      assert.deepEqual(await readdir(dir), []);
    },
  );
}
