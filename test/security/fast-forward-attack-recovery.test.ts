/**
 * Fast-forward attack recovery (spec 5.3.11): an attacker with the timestamp (or snapshot) key
 * publishes a huge version number. Clients that accepted it would refuse every real later version
 * as a "rollback". The publisher recovers by rotating that key in a new root: the client must then
 * drop its trusted timestamp (and snapshot) and accept the real, lower versions again.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DataError } from '../../src/errors.js';
import { newKey } from '../helpers/tuf-repo.js';
import { refused, tufWorld } from '../helpers/tuf-world.js';
import { createKey } from '../../src/repo/key-store.js';
import { replaceKey } from '../../src/repo/key-roles.js';
import {
  clientAttackWorld,
  resignedTimestamp,
  type ClientAttackWorld,
} from '../helpers/client-attack-world.js';
import { cachedState, folderDigest } from '../support/world.js';

test('fast-forward recovery: after a timestamp key rotation, real timestamps are accepted again', async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  // The attacker (holding the timestamp key) fast-forwards the timestamp version.
  const realVersion = w.repo.version.timestamp;
  w.repo.version.timestamp = 1000;
  w.repo.publishTimestamp();
  await w.client().refresh();
  assert.ok((await w.trusted()).get('timestamp.json')!.toString().includes('"version": 1000'));
  // Without a key rotation, the real next version looks like a rollback and is refused.
  w.repo.version.timestamp = realVersion + 1;
  w.repo.publishTimestamp();
  await assert.rejects(w.client().refresh(), refused(DataError, 'ROLLBACK'));
  // The publisher rotates the timestamp key; the client recovers.
  w.repo.rotateRoot({ timestamp: [newKey()] });
  w.repo.version.timestamp = realVersion + 2;
  w.repo.publishTimestamp();
  await w.client().refresh();
  const trusted = await w.trusted();
  assert.deepEqual(trusted.get('timestamp.json'), Buffer.from(w.repo.latest.get('timestamp')!));
  assert.deepEqual(trusted.get('root.json'), Buffer.from(w.repo.roots[1]!));
});

test('fast-forward recovery: after a snapshot key rotation, real snapshots are accepted again', async () => {
  await using w = await tufWorld();
  w.repo.addTarget('app-1.0.0.tar.gz', 'one');
  w.repo.publishAll();
  await w.client().refresh();
  // Attacker with snapshot and timestamp keys: snapshot v1000 listing targets v1000? No, keep
  // targets; the snapshot version itself is fast-forwarded.
  const realSnapshot = w.repo.version.snapshot;
  w.repo.version.snapshot = 1000;
  w.repo.publishSnapshot();
  w.repo.bumpTimestamp();
  await w.client().refresh();
  // Real repository publishes snapshot realSnapshot+1: refused (timestamp names a lower snapshot).
  w.repo.version.snapshot = realSnapshot + 1;
  w.repo.publishSnapshot();
  w.repo.bumpTimestamp();
  await assert.rejects(w.client().refresh(), refused(DataError, 'ROLLBACK'));
  // Rotate snapshot and timestamp keys (the attacker held both).
  w.repo.rotateRoot({ snapshot: [newKey()], timestamp: [newKey()] });
  w.repo.publishSnapshot();
  w.repo.bumpTimestamp();
  await w.client().refresh();
  const trusted = await w.trusted();
  assert.deepEqual(trusted.get('snapshot.json'), Buffer.from(w.repo.latest.get('snapshot')!));
  assert.deepEqual(trusted.get('timestamp.json'), Buffer.from(w.repo.latest.get('timestamp')!));
});

test('fast-forward recovery: a root update without a key rotation keeps the rollback protection', async () => {
  await using w = await tufWorld();
  w.repo.publishAll();
  w.repo.publishAll(); // timestamp v3
  const oldTimestamp = w.repo.latest.get('timestamp');
  w.repo.publishAll(); // v4
  await w.client().refresh();
  w.repo.rotateRoot({ targets: [newKey()] }); // timestamp and snapshot keys unchanged
  w.repo.publishAll();
  w.server.behave('/metadata/timestamp.json', { kind: 'body', body: oldTimestamp! });
  await assert.rejects(w.client().refresh(), refused(DataError, 'ROLLBACK'));
});

test('fast-forward recovery: rotating only the snapshot key also drops the trusted timestamp (spec 5.3.11)', async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  const realSnapshot = w.repo.version.snapshot;
  w.repo.version.snapshot = 1000;
  w.repo.publishSnapshot();
  w.repo.bumpTimestamp();
  await w.client().refresh();
  w.repo.rotateRoot({ snapshot: [newKey()] });
  w.repo.version.snapshot = realSnapshot + 1;
  w.repo.publishSnapshot();
  w.repo.bumpTimestamp();
  await w.client().refresh();
  const trusted = await w.trusted();
  assert.deepEqual(trusted.get('snapshot.json'), Buffer.from(w.repo.latest.get('snapshot')!));
  assert.deepEqual(trusted.get('timestamp.json'), Buffer.from(w.repo.latest.get('timestamp')!));
});

// Through the whole client, with the publisher's own key rotation command.
describe('fast-forward recovery through Client.check', () => {
  let world: ClientAttackWorld;
  before(async () => {
    world = await clientAttackWorld();
  });
  after(() => world.close());

  test('a fast-forwarded timestamp blocks updates until the publisher rotates the timestamp key', async () => {
    const inst = await world.install('fast-forward');
    const appBefore = await folderDigest(inst.installDir);
    assert.equal((await inst.client().check()).kind, 'patches');
    // The thief of the timestamp key publishes version 1000; the client accepts it (it is valid).
    const forward = await resignedTimestamp(world, (signed) => {
      signed['version'] = 1000;
    });
    world.server.behave('/metadata/timestamp.json', { kind: 'body', body: forward });
    await inst.client().check();
    world.server.clearBehaviours();
    // The real timestamp (a lower version) now looks like a rollback.
    const stuck = await cachedState(inst.stateDir);
    await assert.rejects(inst.client().check(), refused(DataError, 'ROLLBACK'));
    assert.deepEqual(await cachedState(inst.stateDir), stuck);
    // Recovery: the publisher replaces the timestamp key (new root version, re-signed timestamp).
    await createKey(world.project.config.keys, 'timestamp-2');
    await replaceKey(world.project.config, 'timestamp', 'timestamp-2');
    await world.reload();
    const update = await inst.client().check();
    assert.equal(update.kind, 'patches');
    const trusted = await readFile(join(inst.stateDir, 'metadata', 'timestamp.json'));
    assert.deepEqual(trusted, Buffer.from(world.server.files.get('/metadata/timestamp.json')!));
    assert.deepEqual(await folderDigest(inst.installDir), appBefore);
  });
});
