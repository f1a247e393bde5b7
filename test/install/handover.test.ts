/** The hand-over contract's values: plan checks, result parsing, confirm paths, shell quoting. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HandoverPlan } from '../../src/client/handover.js';
import { parseHandoverResult, readHandoverResult } from '../../src/client/handover.js';
import { confirmFilePath, handoverResultPath } from '../../src/client/state-layout.js';
import { checkHandoverPlan } from '../../src/client/install.js';
import { shQuote } from '../../src/client/install.posix.js';
import { DataError, UsageError } from '../../src/errors.js';
import { TRICKY_ARGS } from '../support/handover-app.js';
import { trickyTempDir } from '../support/temp-dir.js';

const enc = new TextEncoder();

const PLAN: HandoverPlan = {
  appName: 'myapp',
  version: '2.0',
  previousVersion: '1.0',
  installDir: '/opt/my app',
  stagingDir: '/opt/my app.staging',
  backupDir: '/opt/my app.backup',
  pid: 123,
  restart: { command: '/opt/my app/run', args: ['x'] },
  stateDir: '/var/lib/myapp',
  healthTimeoutSeconds: 30,
  waitTimeoutSeconds: 60,
};

test('result.json: a valid result is read back, with or without a reason', () => {
  assert.deepEqual(
    parseHandoverResult(enc.encode('{"outcome":"installed","version":"2.0","previousVersion":"1.0"}')),
    {
      outcome: 'installed',
      version: '2.0',
      previousVersion: '1.0',
    },
  );
  assert.deepEqual(
    parseHandoverResult(
      enc.encode(
        '{"outcome":"rolled-back","version":"2.0","previousVersion":"1.0","reason":"the new version exited"}\r\n',
      ),
    ),
    { outcome: 'rolled-back', version: '2.0', previousVersion: '1.0', reason: 'the new version exited' },
  );
});

test('result.json: garbage, unknown outcomes, missing fields and oversized files are refused as DataError', () => {
  for (const text of [
    '',
    'not json',
    '[]',
    'null',
    '{"outcome":"maybe","version":"2.0","previousVersion":"1.0"}',
    '{"outcome":"installed","previousVersion":"1.0"}',
    '{"outcome":"installed","version":"2.0","previousVersion":"1.0","reason":42}',
  ]) {
    assert.throws(() => parseHandoverResult(enc.encode(text)), DataError, text);
  }
  const big = enc.encode(
    `{"outcome":"installed","version":"2.0","previousVersion":"1.0","reason":"${'x'.repeat(70_000)}"}`,
  );
  assert.throws(
    () => parseHandoverResult(big),
    (e: unknown) => e instanceof DataError && /too long/.test(e.message),
  );
  assert.throws(() => parseHandoverResult(new Uint8Array([0x7b, 0xff, 0x7d])), DataError);
});

test('readHandoverResult: undefined before the installer has written one, the result after', async () => {
  const { dir, remove } = await trickyTempDir('notsotuf result');
  try {
    assert.equal(await readHandoverResult(dir), undefined);
    await mkdir(join(dir, 'handover'));
    await writeFile(
      handoverResultPath(dir),
      '{"outcome":"failed","version":"2.0","previousVersion":"1.0","reason":"r"}',
    );
    assert.deepEqual(await readHandoverResult(dir), {
      outcome: 'failed',
      version: '2.0',
      previousVersion: '1.0',
      reason: 'r',
    });
  } finally {
    await remove();
  }
});

test('confirm file: a version that would escape the handover folder is refused', () => {
  assert.equal(confirmFilePath('/s', '1.2.3rc1'), join('/s', 'handover', 'confirmed-1.2.3rc1'));
  for (const bad of ['../x', 'a/b', '', '.hidden', 'a\\b', '1.0\n']) {
    assert.throws(() => confirmFilePath('/s', bad), UsageError, bad);
  }
});

test('plan checks: a well-formed plan passes', () => {
  checkHandoverPlan(PLAN);
  checkHandoverPlan({ ...PLAN, restart: undefined, healthTimeoutSeconds: 0 });
});

test('plan checks: relative paths, non-sibling folders, a state folder inside the app, bad pids and timeouts are refused', () => {
  const bad: Partial<HandoverPlan>[] = [
    { installDir: 'relative/app' },
    { stagingDir: '/tmp/staging' },
    { backupDir: '/other/volume/backup' },
    { backupDir: PLAN.stagingDir },
    { stagingDir: PLAN.installDir },
    { stateDir: '/opt/my app/state' },
    { pid: 0 },
    { pid: 1.5 },
    { waitTimeoutSeconds: 0 },
    { healthTimeoutSeconds: -1 },
    { healthTimeoutSeconds: 30_000 * 1000 },
    { version: '../../etc' },
    { appName: 'my app' },
    { restart: { command: '', args: [] } },
    { restart: { command: '/bin/x', args: ['a\0b'] } },
    { restart: { command: '/bin/x', args: [], cwd: 'here' } },
    { installDir: '/opt/my\napp' },
  ];
  for (const over of bad) {
    assert.throws(() => checkHandoverPlan({ ...PLAN, ...over }), UsageError, JSON.stringify(over));
  }
});

test('shell quoting: every tricky word comes back byte for byte through a real sh', () => {
  const words = [...TRICKY_ARGS, "'", "''", '\\', '"', '$', '!', '~', '#x', '\t', 'ü'];
  const r = spawnSync('sh', ['-c', `printf '%s\\0' ${words.map(shQuote).join(' ')}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\0').slice(0, -1), words);
});
