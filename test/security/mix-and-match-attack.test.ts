/**
 * Mix-and-match attack (spec 5.5.2, 5.5.4, 5.6.2, 5.6.4): a hostile mirror combines metadata from
 * different points in time, each file validly signed, e.g. today's timestamp with last week's
 * snapshot or an old targets file, to offer a release list the repository never published.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DataError } from '../../src/errors.js';
import { refused, tufWorld } from '../helpers/tuf-world.js';
import { clientAttackWorld, updateRefused, type ClientAttackWorld } from '../helpers/client-attack-world.js';

test('mix and match: an old snapshot served under the version the new timestamp names is refused', async () => {
  await using w = await tufWorld();
  w.repo.publishAll(); // snapshot v2
  const oldSnapshot = w.repo.latest.get('snapshot')!;
  await w.client().refresh();
  const before = await w.trusted();
  w.repo.addTarget('app-2.0.0.tar.gz', 'v2');
  w.repo.publishAll(); // snapshot v3
  w.server.behave('/metadata/3.snapshot.json', { kind: 'body', body: oldSnapshot });
  await assert.rejects(w.client().refresh(), refused(DataError, 'METADATA_REFUSED'));
  const after = await w.trusted();
  assert.deepEqual(after.get('snapshot.json'), before.get('snapshot.json'));
  assert.deepEqual(after.get('targets.json'), before.get('targets.json'));
});

test('mix and match: a snapshot whose version differs from the one the timestamp names is refused', async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  const before = await w.trusted();
  // Timestamp (without snapshot hashes) says v5; a validly signed snapshot v4 is served.
  w.repo.version.snapshot = 4;
  w.repo.publishSnapshot();
  const v4 = w.repo.latest.get('snapshot')!;
  w.repo.latest.delete('snapshot'); // the timestamp then lists the snapshot by version only
  w.repo.version.snapshot = 5;
  w.repo.version.timestamp += 1;
  w.repo.publishTimestamp();
  w.server.files.set('/metadata/5.snapshot.json', v4);
  await assert.rejects(w.client().refresh(), refused(DataError, 'ROLLBACK'));
  const after = await w.trusted();
  assert.deepEqual(after.get('snapshot.json'), before.get('snapshot.json'));
});

test('mix and match: targets from another release than the snapshot names is refused', async () => {
  await using w = await tufWorld();
  w.repo.addTarget('app-1.0.0.tar.gz', 'v1');
  w.repo.publishAll(); // targets v2
  const targetsV2 = w.repo.latest.get('targets')!;
  await w.client().refresh();
  const before = await w.trusted();
  w.repo.addTarget('app-1.1.0.tar.gz', 'v1.1');
  w.repo.publishAll(); // targets v3
  w.server.behave('/metadata/3.targets.json', { kind: 'body', body: targetsV2 });
  await assert.rejects(w.client().refresh(), refused(DataError, 'METADATA_REFUSED'));
  assert.deepEqual((await w.trusted()).get('targets.json'), before.get('targets.json'));
});

test('mix and match: a delegated role from an older release is refused', async () => {
  const { TestRepo } = await import('../helpers/tuf-repo.js');
  const repo = TestRepo.create();
  const d = repo.addDelegation({ name: 'apps', paths: ['apps/*'] });
  d.targets.set('apps/a.bin', { bytes: Buffer.from('a1') });
  repo.publishDelegated('apps');
  repo.publishAll(); // apps v2
  const appsV2 = repo.latest.get('apps')!;
  await using w = await tufWorld(repo);
  const c = w.client();
  await c.refresh();
  await c.getTarget('apps/a.bin');
  const before = await w.trusted();
  d.targets.set('apps/a.bin', { bytes: Buffer.from('a2') });
  repo.publishAll(); // apps v3
  w.server.behave('/metadata/3.apps.json', { kind: 'body', body: appsV2 });
  const c2 = w.client();
  await c2.refresh();
  await assert.rejects(c2.getTarget('apps/a.bin'), refused(DataError, 'METADATA_REFUSED'));
  assert.deepEqual((await w.trusted()).get('apps.json'), before.get('apps.json'));
});

// Through the whole client: the installed app and the client's cached state stay as they were.
describe('mix and match through Client.check/install', () => {
  let world: ClientAttackWorld;
  before(async () => {
    world = await clientAttackWorld();
  });
  after(() => world.close());

  test('the current timestamp with the snapshot of the previous release is refused', async () => {
    const inst = await world.install('mix');
    const oldSnapshot = world.old.get(newest(world.old, 'snapshot'))!;
    const current = newest(world.server.files, 'snapshot');
    await updateRefused(
      world,
      inst,
      'METADATA_REFUSED',
      (server) => server.behave(current, { kind: 'body', body: oldSnapshot }),
      'previous',
      // The current timestamp verifies (right keys, newer) and is kept, as spec 5.4.5 says.
      ['metadata/timestamp.json'],
    );
  });

  test('the current snapshot with the targets of the previous release is refused', async () => {
    const inst = await world.install('mix-targets');
    const oldTargets = world.old.get(newest(world.old, 'targets'))!;
    const current = newest(world.server.files, 'targets');
    await updateRefused(
      world,
      inst,
      // Our publisher lists targets in the snapshot by version: the version check refuses it.
      'ROLLBACK',
      (server) => server.behave(current, { kind: 'body', body: oldTargets }),
      'previous',
      ['metadata/timestamp.json', 'metadata/snapshot.json'],
    );
  });
});

/** The served path of the newest versioned `role` metadata in `files`. */
function newest(files: Map<string, Uint8Array>, role: string): string {
  const re = new RegExp(`^/metadata/(\\d+)\\.${role}\\.json$`);
  const found = [...files.keys()]
    .map((p) => ({ p, m: re.exec(p) }))
    .filter((x) => x.m !== null)
    .sort((a, b) => Number(b.m![1]) - Number(a.m![1]));
  if (found[0] === undefined) throw new Error(`no ${role} in ${[...files.keys()].join(' ')}`);
  return found[0].p;
}
