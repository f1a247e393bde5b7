import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { cli, cliProcess } from '../helpers/cli.js';

/** The contract of docs/client.md: exactly one JSON object on stdout, naming the error. */
function jsonError(stdout: string): { name: string; code: string; message: string } {
  const lines = stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line of JSON on stdout, got: ${stdout}`);
  const value = JSON.parse(lines[0] ?? '') as { status: string; error: Record<string, unknown> };
  assert.equal(value.status, 'error');
  const { name, code, message } = value.error;
  assert.equal(typeof name, 'string');
  assert.equal(typeof code, 'string');
  assert.equal(typeof message, 'string');
  assert.ok((message as string).length > 0);
  return { name: name as string, code: code as string, message: message as string };
}

test('--json: every command prints one JSON error object for a bad option (exit 2)', async () => {
  for (const command of COMMANDS) {
    const r = await cli([...command.path, '--json', '--no-such-option']);
    assert.equal(r.code, EXIT.usage, command.path.join(' '));
    const e = jsonError(r.stdout);
    assert.equal(e.name, 'UsageError');
    if (command.options?.json === undefined) {
      // a command with no JSON output says so, as JSON
      assert.equal(e.code, 'JSON_NOT_SUPPORTED', command.path.join(' '));
      assert.match(e.message, /has no --json output/);
    } else {
      assert.equal(e.code, 'BAD_ARGUMENTS', command.path.join(' '));
      assert.match(e.message, /no-such-option/);
    }
  }
});

test('--json: an unknown command is a JSON usage error too', async () => {
  const r = await cli(['frobnicate', '--json']);
  assert.equal(r.code, EXIT.usage);
  assert.equal(jsonError(r.stdout).code, 'UNKNOWN_COMMAND');
  const group = await cli(['release', 'nosuch', '--json']);
  assert.equal(group.code, EXIT.usage);
  assert.equal(jsonError(group.stdout).code, 'UNKNOWN_COMMAND');
});

test('--json: a failure inside a client command keeps its class and code', async () => {
  const missing = await cli(['check', '--config', '/nonexistent/update.json', '--json']);
  assert.equal(missing.code, EXIT.usage);
  assert.deepEqual(
    { ...jsonError(missing.stdout), message: '' },
    { name: 'UsageError', code: 'CONFIG_UNREADABLE', message: '' },
  );
  assert.match(missing.stderr, /cannot read config file/);
});

test('--json: a publisher command failing in run() prints the JSON object, as a real process', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-json-'));
  try {
    const r = await cliProcess(['release', 'list', '--json'], { cwd: dir });
    assert.equal(r.code, EXIT.usage, r.stderr);
    const e = jsonError(r.stdout);
    assert.equal(e.name, 'UsageError');
    assert.match(e.message, /notsotuf\.json|init/);
    // a flag after `--` is another program's: no JSON wanted
    const plain = await cli(['frobnicate', '--', '--json']);
    assert.equal(plain.stdout, '');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
