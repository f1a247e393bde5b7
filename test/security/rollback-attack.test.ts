/**
 * Rollback attack (spec 5.4.3, 5.5.5, 5.6.4): a hostile server or mirror serves metadata older than
 * what the client already trusts, to bring back an old, vulnerable release. Each refusal also leaves
 * the trusted metadata on disk byte for byte as it was.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DataError } from '../../src/errors.js';
import { refused, tufWorld } from '../helpers/tuf-world.js';
import { clientAttackWorld, updateRefused, type ClientAttackWorld } from '../helpers/client-attack-world.js';

test('rollback: a timestamp with a lower version than the trusted one is refused', async () => {
  await using w = await tufWorld();
  w.repo.publishAll(); // timestamp v2
  const oldTimestamp = w.repo.latest.get('timestamp')!;
  w.repo.publishAll(); // v3
  await w.client().refresh();
  const before = await w.trusted();
  w.server.behave('/metadata/timestamp.json', { kind: 'body', body: oldTimestamp });
  await assert.rejects(w.client().refresh(), refused(DataError, 'ROLLBACK'));
  assert.deepEqual(await w.trusted(), before);
});

test('rollback: a newer timestamp that names an older snapshot version is refused', async () => {
  await using w = await tufWorld();
  w.repo.publishAll();
  w.repo.publishAll(); // snapshot v3
  await w.client().refresh();
  const before = await w.trusted();
  // A timestamp key holder signs a fresh timestamp pointing back at snapshot v2.
  w.repo.version.snapshot = 2;
  w.repo.version.timestamp += 1;
  w.repo.publishTimestamp();
  await assert.rejects(w.client().refresh(), refused(DataError, 'ROLLBACK'));
  assert.deepEqual(await w.trusted(), before);
});

test('rollback: a snapshot that lists an older targets version than the trusted snapshot is refused', async () => {
  await using w = await tufWorld();
  w.repo.addTarget('app-2.0.0.tar.gz', 'new');
  w.repo.publishAll(); // targets v2
  await w.client().refresh();
  const before = await w.trusted();
  // Snapshot and timestamp keys are used to point back at targets v1 (the old release list).
  w.repo.version.targets = 1;
  w.repo.version.snapshot += 1;
  w.repo.publishSnapshot();
  w.repo.version.timestamp += 1;
  w.repo.publishTimestamp();
  await assert.rejects(w.client().refresh(), refused(DataError, 'ROLLBACK'));
  const after = await w.trusted();
  // The new timestamp verified (right keys, higher version) and is kept, as spec 5.4.5 says; the
  // snapshot that carried the rollback was not stored, and targets still lists the new release.
  assert.deepEqual(after.get('snapshot.json'), before.get('snapshot.json'));
  assert.deepEqual(after.get('targets.json'), before.get('targets.json'));
  assert.deepEqual(after.get('root.json'), before.get('root.json'));
  assert.ok(after.get('targets.json')!.toString().includes('app-2.0.0.tar.gz'));
});

test('rollback: targets metadata whose version differs from the one the snapshot names is refused', async () => {
  await using w = await tufWorld();
  w.repo.addTarget('app-2.0.0.tar.gz', 'new');
  w.repo.publishAll(); // targets v2
  const v2 = w.repo.latest.get('targets')!;
  w.repo.publishAll(); // targets v3, snapshot v3
  // The mirror serves the old targets v2 under the name 3.targets.json: its bytes fail the signed
  // hash and length of targets in the snapshot (spec 5.6.2).
  w.server.behave('/metadata/3.targets.json', { kind: 'body', body: v2 });
  await assert.rejects(w.client().refresh(), refused(DataError, 'METADATA_REFUSED'));
  const trusted = await w.trusted();
  assert.equal(trusted.has('targets.json'), false, 'the refused targets was not stored');
});

test('rollback: a signed snapshot without hashes still cannot bring back an older targets version', async () => {
  await using w = await tufWorld();
  w.repo.publishAll(); // targets v2
  const v2 = w.repo.latest.get('targets')!;
  await w.client().refresh();
  const before = await w.trusted();
  w.repo.publishAll(); // targets v3 listed in snapshot v3
  // A repository whose snapshot lists targets by version only (hashes are optional, spec 4.4):
  // then the version inside the served targets is the only defence (spec 5.6.4).
  w.repo.latest.delete('targets');
  w.repo.publishSnapshot();
  w.repo.publishTimestamp();
  w.server.behave('/metadata/3.targets.json', { kind: 'body', body: v2 });
  await assert.rejects(w.client().refresh(), refused(DataError, 'ROLLBACK'));
  const after = await w.trusted();
  assert.deepEqual(after.get('targets.json'), before.get('targets.json'));
});

// Through the whole client: the installed app and the client's cached state stay as they were.
describe('rollback through Client.check/install', () => {
  let world: ClientAttackWorld;
  before(async () => {
    world = await clientAttackWorld();
  });
  after(() => world.close());

  test('the metadata of an older release replayed after a newer one was seen is refused', async () => {
    const inst = await world.install('rollback');
    const oldTimestamp = world.old.get('/metadata/timestamp.json')!;
    await updateRefused(world, inst, 'ROLLBACK', (server) =>
      server.behave('/metadata/timestamp.json', { kind: 'body', body: oldTimestamp }),
    );
  });
});
