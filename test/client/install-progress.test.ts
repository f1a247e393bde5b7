import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DownloadProgress } from '../../src/client/client-options.js';
import { throttleProgress } from '../../src/client/progress.js';
import { exitedPid } from '../support/fixture.js';
import { servedProject } from '../support/world.js';

/**
 * onProgress covers the whole install in bytes: the download, then the rebuild of the new tar (patch
 * or gunzip) and the unpack, each named by `stage` and each ending at its total. It is throttled: a
 * progress bar gets about ten calls a second, not one per network chunk.
 */
const served = servedProject();

test('install reports byte progress through download, rebuild and unpack, each stage ending at its total', async () => {
  const inst = await served.install('progress');
  try {
    const client = inst.client();
    const update = await client.check();
    assert.notEqual(update.kind, 'none');
    if (update.kind === 'none') return;
    const events: DownloadProgress[] = [];
    await client.install(update, {
      restart: false,
      pid: await exitedPid(),
      onProgress: (p) => events.push(p),
    });
    const stages = events.map((e) => e.stage).filter((s, i, all) => i === 0 || all[i - 1] !== s);
    assert.deepEqual(stages, ['download', 'rebuild', 'unpack']);
    const tar = update.release.tar.length;
    for (const stage of ['download', 'rebuild', 'unpack'] as const) {
      const of = events.filter((e) => e.stage === stage);
      const last = of[of.length - 1]!;
      assert.equal(last.bytesDone, last.totalBytes, `${stage} ends at its total`);
      for (let i = 1; i < of.length; i++)
        assert.ok(of[i]!.bytesDone >= of[i - 1]!.bytesDone, `${stage} never goes back`);
      if (stage !== 'download')
        assert.equal(last.totalBytes, tar, `${stage} counts the bytes of the new tar`);
    }
  } finally {
    await inst.cleanup();
  }
});

test('throttleProgress passes about one call per interval, every stage change and every end of a stage', () => {
  let clock = 0;
  const got: DownloadProgress[] = [];
  const report = throttleProgress(
    (p) => got.push(p),
    100,
    () => clock,
  );
  const total = 63_000_000;
  // 940 network chunks over 2 s, as measured for a 63 MB download.
  for (let i = 1; i <= 940; i++) {
    clock = (i * 2000) / 940;
    report({
      stage: 'download',
      bytesDone: Math.round((i * total) / 940),
      totalBytes: total,
      bytesPerSecond: 0,
      file: 'a',
    });
  }
  report({ stage: 'rebuild', bytesDone: 0, totalBytes: 10, bytesPerSecond: 0, file: 'a' });
  report({ stage: 'rebuild', bytesDone: 10, totalBytes: 10, bytesPerSecond: 0, file: 'a' });
  assert.ok(got.length <= 25, `${got.length} calls`);
  assert.ok(got.length >= 20, `${got.length} calls`);
  assert.equal(
    got.filter((p) => p.stage === 'download').at(-1)?.bytesDone,
    total,
    'the end of a stage always passes',
  );
  assert.deepEqual(
    got.filter((p) => p.stage === 'rebuild').map((p) => p.bytesDone),
    [0, 10],
  );
});
