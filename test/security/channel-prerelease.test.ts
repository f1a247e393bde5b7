/**
 * Channel: an install on the stable channel never receives a pre-release, whatever the repository
 * lists (rc, beta, alpha, dev), and each channel gets exactly the newest release of its own level or
 * a more stable one. The level comes from the signed version; a target whose name and signed
 * metadata disagree (a stable name over a pre-release version) is not offered at all.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import type { Channel } from '../../src/core/version.js';
import { loadForEdit } from '../../src/repo/repository-files.js';
import { exitedPid, makeProject, waitForResult } from '../support/fixture.js';
import { startTestServer } from '../support/test-server.js';
import { compromisedTargets } from '../faults/compromised-targets.js';
import { cachedState, folderDigest, freshInstall, holdsVersion, servedProject } from '../support/world.js';

const served = servedProject(['1.0.0'], async (project) => {
  // Each less stable level is newer, so a channel that leaked would pick the wrong one.
  for (const v of ['1.1.0rc1', '1.2.0b1', '1.3.0a1', '1.4.0.dev1']) await project.publish(v);
});

test('channel: an install on stable is offered no pre-release, and its app and cached tars stay as they are', async () => {
  const inst = await served.install('channel-stable');
  try {
    const appBefore = await folderDigest(inst.installDir);
    const client = inst.client();
    assert.equal(client.channel, 'stable');
    assert.deepEqual(await client.check(), { kind: 'none' });
    assert.deepEqual(await folderDigest(inst.installDir), appBefore);
    assert.ok(![...(await cachedState(inst.stateDir)).keys()].some((k) => k.startsWith('tars/')));
  } finally {
    await inst.cleanup();
  }
});

for (const [channel, want] of [
  ['rc', '1.1.0rc1'],
  ['beta', '1.2.0b1'],
  ['alpha', '1.3.0a1'],
  ['dev', '1.4.0.dev1'],
] as const satisfies readonly (readonly [Channel, string])[]) {
  test(`channel: an install on ${channel} is offered ${want}, nothing less stable`, async () => {
    const inst = await served.install(`channel-${channel}`);
    try {
      const update = await inst.client({ channel }).check();
      assert.notEqual(update.kind, 'none');
      if (update.kind === 'none') return;
      assert.equal(update.version, want);
    } finally {
      await inst.cleanup();
    }
  });
}

test('channel: once a stable release exists, a stable install updates to it through the pre-release patches and ends on it', async () => {
  const local = await makeProject();
  try {
    await local.publish('1.0.0');
    await local.publish('1.1.0rc1');
    await local.publish('1.1.0');
    const srv = await startTestServer({ root: local.config.repository });
    const inst = await freshInstall(local, srv.url, 'channel-stable-update');
    try {
      const client = inst.client();
      const update = await client.check();
      assert.equal(update.kind, 'patches');
      assert.equal(update.version, '1.1.0');
      const staged = await client.install(update, { restart: false, pid: await exitedPid() });
      await staged.quitAndInstall();
      assert.equal((await waitForResult(inst.stateDir)).outcome, 'installed');
      assert.ok(await holdsVersion(local, inst.installDir, '1.1.0'));
    } finally {
      await inst.cleanup();
      await srv.close();
    }
  } finally {
    await local.cleanup();
  }
});

test('channel: a target named as stable whose signed metadata says rc is not offered to anyone', async () => {
  const local = await makeProject();
  try {
    await local.publish('1.0.0');
    const rc = await local.publish('2.0.0rc1');
    const state = await loadForEdit(local.config.repository, new Date());
    const custom = state.targets.signed.targets[rc.archive.name]?.unrecognizedFields.custom as {
      notsotuf: Record<string, unknown>;
    };
    assert.equal(custom.notsotuf.version, '2.0.0rc1');
    // A compromised targets key relists the rc archive under a stable name, keeping its signed metadata.
    await compromisedTargets(local.config, {
      'demo-2.0.0.tar.gz': {
        bytes: await readFile(local.targetFile(rc.archive.name, rc.archive.sha256)),
        edit: (meta) => Object.assign(meta, custom.notsotuf),
      },
      [rc.archive.name]: { remove: true },
      [rc.patch!.name]: { remove: true },
    });
    const srv = await startTestServer({ root: local.config.repository });
    const inst = await freshInstall(local, srv.url, 'channel-disguised');
    try {
      assert.deepEqual(await inst.client().check(), { kind: 'none' });
      assert.deepEqual(await inst.client({ channel: 'rc' }).check(), { kind: 'none' });
      // Control: the same relisting with metadata that agrees with the name is offered (so the
      // refusal above came from the disagreement, not from anything else).
      await compromisedTargets(local.config, {
        'demo-2.0.0.tar.gz': { edit: (meta) => Object.assign(meta, { version: '2.0.0' }) },
      });
      const offered = await inst.client().check();
      assert.equal(offered.kind, 'full');
      assert.equal(offered.version, '2.0.0');
    } finally {
      await inst.cleanup();
      await srv.close();
    }
  } finally {
    await local.cleanup();
  }
});
