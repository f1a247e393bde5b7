/**
 * Rollout: a release published to P % of installs is offered to an install exactly when its stable
 * per-install id (a number in [0, 100) kept in the state folder) is below P; the id does not change
 * between runs; and the percentage is signed, so a server that edits it in targets.json is refused
 * with the install and its trusted metadata unchanged.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataError } from '../../src/errors.js';
import { cachedState, folderDigest, publishWith, servedProject } from '../support/world.js';

const served = servedProject(['1.0.0'], async (project) => {
  await publishWith(project, '1.1.0', { rollout: 30 });
});

for (const [id, offered] of [
  [0, true],
  [12.5, true],
  [29.9999, true],
  [30, false],
  [64.2, false],
  [99.9999, false],
] as const) {
  test(`rollout 30 %: an install with id ${id} is ${offered ? '' : 'not '}offered 1.1.0`, async () => {
    const inst = await served.install('rollout');
    try {
      await mkdir(inst.stateDir, { recursive: true });
      await writeFile(join(inst.stateDir, 'install-id'), `${id}\n`);
      const update = await inst.client().check();
      assert.equal(update.kind === 'none' ? 'none' : update.version, offered ? '1.1.0' : 'none');
      // The same install decides the same way on its next start.
      const again = await inst.client().check();
      assert.equal(again.kind === 'none' ? 'none' : again.version, offered ? '1.1.0' : 'none');
      assert.equal(await readFile(join(inst.stateDir, 'install-id'), 'utf8'), `${id}\n`);
    } finally {
      await inst.cleanup();
    }
  });
}

test('rollout: a new install draws its id once and keeps it across starts', async () => {
  const inst = await served.install('rollout-new');
  try {
    const first = await inst.client().check();
    const id = Number(await readFile(join(inst.stateDir, 'install-id'), 'utf8'));
    assert.ok(id >= 0 && id < 100, String(id));
    assert.equal(first.kind === 'none', id >= 30);
    for (let i = 0; i < 2; i++) {
      const again = await inst.client().check();
      assert.equal(again.kind === 'none', id >= 30);
      assert.equal(Number(await readFile(join(inst.stateDir, 'install-id'), 'utf8')), id);
    }
  } finally {
    await inst.cleanup();
  }
});

test('rollout: the percentage is signed; a server that raises it to 100 % is refused, nothing changes', async () => {
  const inst = await served.install('rollout-tampered');
  try {
    await mkdir(inst.stateDir, { recursive: true });
    await writeFile(join(inst.stateDir, 'install-id'), '50\n');
    // Trust the current metadata first, so the tampered file is a change to refuse.
    assert.deepEqual(await inst.client().check(), { kind: 'none' });
    const before = await cachedState(inst.stateDir);
    const appBefore = await folderDigest(inst.installDir);
    const trusted = await readFile(join(inst.stateDir, 'metadata', 'targets.json'), 'utf8');
    assert.ok(trusted.includes('"rollout": 30'));
    // The publisher signs 1.2.0 (rollout 30); the server hands out that targets.json with 100.
    const published = await publishWith(served.project, '1.2.0', { rollout: 30 });
    const name = `${published.targetsVersion}.targets.json`;
    const real = await readFile(join(served.project.config.repository, 'metadata', name), 'utf8');
    const tampered = real.replaceAll('"rollout": 30', '"rollout": 100');
    assert.notEqual(tampered, real);
    served.server.behave(`/metadata/${name}`, { kind: 'body', body: Buffer.from(tampered) }, Infinity);
    await assert.rejects(inst.client().check(), (e) => {
      assert.ok(e instanceof DataError, String(e));
      assert.equal(e.code, 'METADATA_REFUSED', e.message);
      return true;
    });
    const after = await cachedState(inst.stateDir);
    assert.equal(after.get('metadata/targets.json'), before.get('metadata/targets.json'));
    assert.deepEqual(await folderDigest(inst.installDir), appBefore);
  } finally {
    served.server.clearBehaviours();
    await inst.cleanup();
  }
});
