import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runMain } from '../../src/cli/main.js';
import { fileURLToPath } from 'node:url';
import type { CliResult } from '../helpers/cli.js';
import { appFolder, tempDir } from '../repo/publisher-fixture.js';
import { runProcess } from '../support/processes.js';

const BIN = fileURLToPath(new URL('../../src/cli/bin.ts', import.meta.url));

/** The CLI as a real process from any folder (tsx resolved from here, not from the cwd). */
async function cliProcess(args: string[], opts: { cwd: string }): Promise<CliResult> {
  const r = await runProcess(process.execPath, ['--import', import.meta.resolve('tsx'), BIN, ...args], {
    cwd: opts.cwd,
  });
  return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** runMain with a scripted terminal (the prompt function is the CLI's seam for a terminal). */
async function withAnswers(
  cwd: string,
  args: string[],
  answers: string[],
): Promise<{ code: number; questions: string[]; stdout: string; stderr: string }> {
  const questions: string[] = [];
  let stdout = '';
  let stderr = '';
  const code = await runMain(args, {
    cwd,
    env: {},
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    prompt: (q) => {
      questions.push(q);
      const a = answers.shift();
      if (a === undefined) throw new Error(`unexpected question: ${q}`);
      return Promise.resolve(a);
    },
  });
  return { code, questions, stdout, stderr };
}

test('init asks for app name, folders, expiry and encryption, with safe defaults', async () => {
  const dir = await tempDir();
  // app, repository, keys, root/targets/snapshot/timestamp days, encrypt?, two passphrases x 4 keys
  const answers = ['shop', '', 'secret-keys', '', '30', '', '', 'y', ...Array<string>(8).fill('pw')];
  const r = await withAnswers(dir, ['init'], answers);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.questions[0] ?? '', /App name/);
  assert.match(r.questions.find((q) => q.includes('root')) ?? '', /at least 30\) \[365\]/);
  const config = JSON.parse(await readFile(join(dir, 'notsotuf.json'), 'utf8')) as {
    app: string;
    keys: string;
    expiry: Record<string, number>;
  };
  assert.equal(config.app, 'shop');
  assert.equal(config.keys, 'secret-keys');
  assert.deepEqual(config.expiry, { root: 365, targets: 30, snapshot: 7, timestamp: 1 });
  assert.match(await readFile(join(dir, 'secret-keys', 'root.key'), 'utf8'), /ENCRYPTED PRIVATE KEY/);
});

test('init refuses a one-day root, even when asked interactively', async () => {
  const dir = await tempDir();
  const r = await withAnswers(dir, ['init'], ['shop', '', '', '1', '', '', '', 'n']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /root expiry of 1 days is too short: use at least 30/);
  assert.deepEqual(await readdir(dir), []);
});

test('real process: init --yes, release add right after, status from another folder; exit codes 0, 2 (usage) and 1 (failure)', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const init = await cliProcess(['init', '--yes', '--app', 'demo'], { cwd: dir });
  assert.equal(init.code, 0, init.stderr);
  const add = await cliProcess(['release', 'add', '1.0.0', await appFolder(apps, '1.0.0')], { cwd: dir });
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /Released demo 1\.0\.0: demo-1\.0\.0\.tar\.gz/);
  const again = await cliProcess(['release', 'add', '1.0.0', await appFolder(apps, '1.0.0')], { cwd: dir });
  assert.equal(again.code, 2);
  const targets = join(dir, 'repository', 'targets');
  const { writeFile } = await import('node:fs/promises');
  const [file] = await readdir(targets);
  assert.ok(file);
  await writeFile(join(targets, file), 'tampered');
  const status = await cliProcess(['status', '--config', dir], { cwd: apps });
  assert.equal(status.code, 1);
  assert.match(status.stdout, /FAILED: 1 problem/);
});
