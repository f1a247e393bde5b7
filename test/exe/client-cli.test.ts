/** The client-only CLI (what the executables run), in this process: client commands only. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runClientMain } from '../../src/cli/client-main.js';
import { CLIENT_COMMANDS } from '../../src/cli/commands/client-commands.js';
import { PUBLISHER_COMMANDS } from '../../src/cli/commands/index.js';

async function clientCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runClientMain(args, {
    cwd: process.cwd(),
    env: {},
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    prompt: undefined,
  });
  return { code, stdout, stderr };
}

test('the client CLI lists the client commands and none of the publisher commands', async () => {
  const r = await clientCli(['--help']);
  assert.equal(r.code, 0);
  for (const c of CLIENT_COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c.path.join(' ')} `, 'm'));
  for (const c of PUBLISHER_COMMANDS)
    assert.doesNotMatch(r.stdout, new RegExp(`^  ${c.path.join(' ')} `, 'm'));
});

test('a publisher command is unknown to the client CLI (usage exit 2)', async () => {
  for (const args of [['init'], ['release', 'add'], ['keys', 'list'], ['publish', '--out', 'x']]) {
    const r = await clientCli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /unknown command/, args.join(' '));
  }
});
