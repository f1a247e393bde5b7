/**
 * CLIENT_LIMITS (src/core/limits.ts) bound what the client reads where no signed length exists yet.
 * Each value is checked at its edge here, so a changed or dropped limit shows (maxTargetBytes is in
 * download-refusals.test.ts, maxPatchChainSteps and maxTargets in core/plan.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXIT } from '../../src/cli/exit-codes.js';
import { Client } from '../../src/client/client.js';
import { readState } from '../../src/client/state.js';
import { stateLayout } from '../../src/client/state-layout.js';
import { CLIENT_LIMITS } from '../../src/core/limits.js';
import { cli } from '../helpers/cli.js';
import { withTempDir } from '../support/temp-dir.js';

test('the values themselves (a change here is a change of the client contract: update docs/client.md)', () => {
  assert.deepEqual(CLIENT_LIMITS, {
    maxPatchChainSteps: 64,
    maxTargets: 100_000,
    maxTargetBytes: 8 * 1024 ** 3,
    maxStateFileBytes: 1024 * 1024,
    maxRootBytes: 512 * 1024,
    maxConfigBytes: 64 * 1024,
  });
});

test('maxStateFileBytes: a state.json over the limit is not read (as if absent); one at the limit is', async () => {
  await withTempDir(async (stateDir) => {
    const layout = stateLayout(stateDir);
    await mkdir(stateDir, { recursive: true });
    const body = JSON.stringify({ skipped: ['1.1.0'], noPatchesTo: [] });
    const padded = (size: number): string => body + ' '.repeat(size - Buffer.byteLength(body));
    await writeFile(layout.stateFile, padded(CLIENT_LIMITS.maxStateFileBytes));
    assert.deepEqual((await readState(layout)).skipped, ['1.1.0']);
    await writeFile(layout.stateFile, padded(CLIENT_LIMITS.maxStateFileBytes + 1));
    assert.deepEqual((await readState(layout)).skipped, []);
  });
});

test('maxRootBytes: a trusted root over the limit is refused (DataError TOO_LONG) before it is parsed', async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, 'root.json');
    await writeFile(root, ' '.repeat(CLIENT_LIMITS.maxRootBytes + 1));
    const client = new Client({
      appName: 'demo',
      metadataUrl: 'http://127.0.0.1:9/metadata',
      targetsUrl: 'http://127.0.0.1:9/targets',
      trustedRoot: root,
      installDir: join(dir, 'app'),
      stateDir: join(dir, 'state'),
      currentVersion: '1.0.0',
    });
    await assert.rejects(client.check(), (e: Error & { code?: string }) => {
      assert.equal(e.name, 'DataError', e.message);
      assert.equal(e.code, 'TOO_LONG');
      assert.match(
        e.message,
        new RegExp(`is ${CLIENT_LIMITS.maxRootBytes + 1} bytes, over ${CLIENT_LIMITS.maxRootBytes}`),
      );
      return true;
    });
  });
});

test('maxConfigBytes: a --config file exactly at the limit is read; one byte over is refused with CONFIG_TOO_LARGE', async () => {
  await withTempDir(async (dir) => {
    const config = join(dir, 'update.json');
    // Complete settings, but no install folder: reading past the config file shows it was parsed.
    const body = JSON.stringify({
      appName: 'demo',
      installDir: 'app-not-installed',
      metadataUrl: 'http://127.0.0.1:9/metadata',
      targetsUrl: 'http://127.0.0.1:9/targets',
      trustedRoot: 'root.json',
    });
    const padded = (size: number): string => body + ' '.repeat(size - Buffer.byteLength(body));

    await writeFile(config, padded(CLIENT_LIMITS.maxConfigBytes));
    const atLimit = await cli(['check', '--config', config]);
    assert.equal(atLimit.code, EXIT.usage, atLimit.stderr);
    assert.match(atLimit.stderr, /installDir \S*app-not-installed is not a folder/);
    assert.doesNotMatch(atLimit.stderr, /over \d+ bytes/);

    await writeFile(config, padded(CLIENT_LIMITS.maxConfigBytes + 1));
    const over = await cli(['check', '--config', config, '--json']);
    assert.equal(over.code, EXIT.usage, over.stderr);
    const error = (JSON.parse(over.stdout) as { error: { name: string; code: string; message: string } })
      .error;
    assert.equal(error.name, 'UsageError');
    assert.equal(error.code, 'CONFIG_TOO_LARGE');
    assert.equal(error.message, `config file ${config} is over ${CLIENT_LIMITS.maxConfigBytes} bytes`);
  });
});
