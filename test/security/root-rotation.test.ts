/**
 * Root rotation (spec 5.3): a client that trusts an old root follows the chain of root versions,
 * each signed by a threshold of the previous root's keys and of its own; once a key is rotated out
 * it can no longer sign anything; the number of versions followed in one refresh is bounded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DataError } from '../../src/errors.js';
import { newKey } from '../helpers/tuf-repo.js';
import { refused, tufWorld } from '../helpers/tuf-world.js';
import { createKey } from '../../src/repo/key-store.js';
import { replaceKey } from '../../src/repo/key-roles.js';
import {
  clientAttackWorld,
  resignedTimestamp,
  updateRefused,
  type ClientAttackWorld,
} from '../helpers/client-attack-world.js';

test('root rotation: a client on root v1 follows the chain to v4, verifying each step', async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  w.repo.rotateRoot({ root: [newKey()] }); // v2: new root key, signed by old and new
  w.repo.rotateRoot({ root: [newKey()], targets: [newKey()] }); // v3
  w.repo.rotateRoot({ root: [newKey()], timestamp: [newKey()] }); // v4
  w.repo.publishAll();
  await w.client().refresh();
  const trusted = await w.trusted();
  assert.deepEqual(trusted.get('root.json'), Buffer.from(w.repo.roots[3]!));
  assert.deepEqual(trusted.get('timestamp.json'), Buffer.from(w.repo.latest.get('timestamp')!));
  const roots = w.server.requests.filter((r) => r.endsWith('.root.json'));
  assert.deepEqual(roots.slice(-4), [
    '/metadata/2.root.json',
    '/metadata/3.root.json',
    '/metadata/4.root.json',
    '/metadata/5.root.json',
  ]);
});

test('root rotation: a broken link in the chain stops at the last good root', async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  w.repo.rotateRoot({ root: [newKey()] }); // v2, good
  const jump = newKey();
  w.repo.rotateRoot({ root: [jump] }, [jump]); // v3 signed only by its own new key: not by v2's
  w.repo.publishAll();
  await assert.rejects(w.client().refresh(), refused(DataError, 'METADATA_REFUSED'));
  // v2 verified and is kept; v3 was refused.
  assert.deepEqual((await w.trusted()).get('root.json'), Buffer.from(w.repo.roots[1]!));
});

test('root rotation: a rotated-out timestamp key can no longer sign', async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  const oldTimestampKeys = w.repo.keys.timestamp;
  w.repo.rotateRoot({ timestamp: [newKey()] });
  w.repo.bumpTimestamp();
  await w.client().refresh();
  const before = await w.trusted();
  // The old key (say, leaked) signs a newer timestamp.
  w.repo.version.timestamp += 1;
  w.repo.publishTimestamp(oldTimestampKeys);
  await assert.rejects(w.client().refresh(), refused(DataError, 'METADATA_REFUSED'));
  assert.deepEqual(await w.trusted(), before);
});

test('root rotation: a rotated-out root key can no longer sign a new root', async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  const oldRootKeys = w.repo.keys.root;
  w.repo.rotateRoot({ root: [newKey()] }); // v2
  await w.client().refresh();
  const before = await w.trusted();
  // v3 signed by the v1 root key only (it was a valid signer once).
  w.repo.rotateRoot({}, oldRootKeys);
  await assert.rejects(w.client().refresh(), refused(DataError, 'METADATA_REFUSED'));
  assert.deepEqual(await w.trusted(), before);
});

test('root rotation: a root version that skips a number is refused', async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  const before = await w.trusted();
  w.repo.rotateRoot();
  // Served under 2.root.json but claims version 3.
  w.repo.version.root = 3;
  const v3 = w.repo.publishRoot();
  w.server.files.set('/metadata/2.root.json', v3);
  await assert.rejects(w.client().refresh(), refused(DataError, 'ROLLBACK'));
  assert.deepEqual(await w.trusted(), before);
});

test('root rotation: at most maxRootRotations versions are followed in one refresh', async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  for (let i = 0; i < 5; i++) w.repo.rotateRoot();
  await w.client({ maxRootRotations: 2 }).refresh();
  assert.deepEqual((await w.trusted()).get('root.json'), Buffer.from(w.repo.roots[2]!));
  await w.client({ maxRootRotations: 32 }).refresh();
  assert.deepEqual((await w.trusted()).get('root.json'), Buffer.from(w.repo.roots[5]!));
});

// Through the whole client, with the publisher's own key rotation command.
describe('root rotation through Client.check/install', () => {
  let world: ClientAttackWorld;
  before(async () => {
    world = await clientAttackWorld();
  });
  after(() => world.close());

  test('after the publisher replaces the timestamp key, the old key can no longer sign', async () => {
    const inst = await world.install('rotated-out');
    await createKey(world.project.config.keys, 'timestamp-new');
    await replaceKey(world.project.config, 'timestamp', 'timestamp-new');
    await world.reload();
    // The client follows the new root (first, honest check inside updateRefused), then the old,
    // rotated-out key signs a newer timestamp: refused, app and cached state unchanged.
    const forged = await resignedTimestamp(
      world,
      (signed) => {
        signed['version'] = Number(signed['version']) + 1;
      },
      'timestamp',
    );
    await updateRefused(world, inst, 'METADATA_REFUSED', (server) =>
      server.behave('/metadata/timestamp.json', { kind: 'body', body: forged }),
    );
  });
});
