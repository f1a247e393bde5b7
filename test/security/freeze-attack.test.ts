/**
 * Freeze attack (spec 5.3.10, 5.4.4, 5.5.6, 5.6.5): a hostile server keeps serving metadata that
 * has expired, so the client never learns about new releases (e.g. a security fix). Expiry is
 * judged against the reference time taken when a refresh starts: the real clock, or an injected
 * one. tuf-js reads dates from signed metadata only, so metadata signed already expired is refused
 * with the real clock, and an injected clock moves past expiry between two refreshes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DataError } from '../../src/errors.js';
import { days } from '../helpers/tuf-repo.js';
import { refused, tufWorld } from '../helpers/tuf-world.js';
import {
  clientAttackWorld,
  resignedTimestamp,
  updateRefused,
  type ClientAttackWorld,
} from '../helpers/client-attack-world.js';

for (const role of ['timestamp', 'snapshot', 'targets'] as const) {
  test(`freeze: an expired ${role} is refused (real clock) and not stored`, async () => {
    await using w = await tufWorld();
    await w.client().refresh();
    const before = await w.trusted();
    w.repo.expires[role] = days(-1);
    w.repo.publishAll();
    await assert.rejects(w.client().refresh(), refused(DataError, 'EXPIRED'));
    const after = await w.trusted();
    // The expired role was not stored; roles that verified before it stay as they were or newer.
    assert.deepEqual(after.get(`${role}.json`), before.get(`${role}.json`));
    assert.deepEqual(after.get('root.json'), before.get('root.json'));
    if (role === 'targets')
      assert.deepEqual(after.get('snapshot.json'), Buffer.from(w.repo.latest.get('snapshot')!));
  });
}

test('freeze: an expired root ends the refresh after the root update (spec 5.3.10)', async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  const before = await w.trusted();
  w.repo.expires.root = days(-1);
  w.repo.rotateRoot();
  w.repo.publishAll();
  await assert.rejects(w.client().refresh(), refused(DataError, 'EXPIRED'));
  const after = await w.trusted();
  // The new root verified and is kept (the chain must advance), nothing else moved.
  assert.deepEqual(after.get('root.json'), Buffer.from(w.repo.roots[1]!));
  for (const role of ['timestamp', 'snapshot', 'targets'])
    assert.deepEqual(after.get(`${role}.json`), before.get(`${role}.json`), role);
});

test('freeze: the same metadata served forever is refused once it expires between two refreshes', async () => {
  await using w = await tufWorld();
  // Day 0: everything is fresh (timestamp expires in 1 day).
  await w.client().refresh();
  const before = await w.trusted();
  // Day 2: the server still serves the same files; nothing new was published.
  await assert.rejects(w.client({ now: () => days(2) }).refresh(), refused(DataError, 'EXPIRED'));
  assert.deepEqual(await w.trusted(), before);
  // The publisher re-signs the timestamp (notsotuf refresh): day 2 is fine again until it expires.
  w.repo.expires.timestamp = days(3);
  w.repo.bumpTimestamp();
  await w.client({ now: () => days(2) }).refresh();
  // Day 8: the snapshot (7 days) has expired, even though the timestamp is fresh.
  w.repo.expires.timestamp = days(10);
  w.repo.bumpTimestamp();
  const mid = await w.trusted();
  await assert.rejects(w.client({ now: () => days(8) }).refresh(), refused(DataError, 'EXPIRED'));
  const after = await w.trusted();
  assert.deepEqual(after.get('snapshot.json'), mid.get('snapshot.json'));
  assert.deepEqual(after.get('targets.json'), mid.get('targets.json'));
});

test('freeze: a trusted timestamp that expired locally does not stop a fresh one from being accepted', async () => {
  await using w = await tufWorld();
  w.repo.expires.timestamp = days(1);
  w.repo.publishAll();
  await w.client().refresh();
  w.repo.expires.timestamp = days(5);
  w.repo.bumpTimestamp();
  await w.client({ now: () => days(2) }).refresh();
  assert.deepEqual((await w.trusted()).get('timestamp.json'), Buffer.from(w.repo.latest.get('timestamp')!));
});

// Through the whole client: the installed app and the client's cached state stay as they were.
describe('freeze through Client.check/install', () => {
  let world: ClientAttackWorld;
  before(async () => {
    world = await clientAttackWorld();
  });
  after(() => world.close());

  test('a newer timestamp that has already expired is refused', async () => {
    const inst = await world.install('freeze');
    const expired = await resignedTimestamp(world, (signed) => {
      signed['version'] = Number(signed['version']) + 1;
      signed['expires'] = `${new Date(Date.now() - 86_400_000).toISOString().slice(0, 19)}Z`;
    });
    await updateRefused(world, inst, 'EXPIRED', (server) =>
      server.behave('/metadata/timestamp.json', { kind: 'body', body: expired }),
    );
  });
});
