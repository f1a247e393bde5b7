/**
 * Key compromise below the threshold (spec 5.3.4, 5.3.5, 5.4.2, 5.5.3, 5.6.3): every role needs 2
 * of its 2 keys; an attacker who stole one key of a role signs malicious metadata with it alone.
 * Each attempt is refused and the trusted metadata on disk stays byte for byte as it was.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DataError } from '../../src/errors.js';
import { TestRepo, newKey, type TopRole } from '../helpers/tuf-repo.js';
import { refused, tufWorld } from '../helpers/tuf-world.js';
import {
  clientAttackWorld,
  resignedTimestamp,
  updateRefused,
  type ClientAttackWorld,
} from '../helpers/client-attack-world.js';

function thresholdTwoRepo(): TestRepo {
  const repo = new TestRepo();
  for (const role of ['root', 'timestamp', 'snapshot', 'targets'] as TopRole[]) {
    repo.keys[role] = [newKey(), newKey()];
    repo.threshold[role] = 2;
  }
  repo.publishRoot();
  repo.publishTargets();
  repo.publishSnapshot();
  repo.publishTimestamp();
  return repo;
}

for (const role of ['timestamp', 'snapshot', 'targets'] as const) {
  test(`key compromise below threshold: ${role} signed by 1 of 2 required keys is refused`, async () => {
    await using w = await tufWorld(thresholdTwoRepo());
    await w.client().refresh();
    const before = await w.trusted();
    const stolen = [w.repo.keys[role][0]!];
    w.repo.addTarget('evil-9.9.9.tar.gz', 'evil');
    w.repo.version.targets += 1;
    w.repo.publishTargets(role === 'targets' ? stolen : undefined);
    w.repo.version.snapshot += 1;
    w.repo.publishSnapshot(role === 'snapshot' ? stolen : undefined);
    w.repo.version.timestamp += 1;
    w.repo.publishTimestamp(role === 'timestamp' ? stolen : undefined);
    await assert.rejects(w.client().refresh(), refused(DataError, 'METADATA_REFUSED'));
    const after = await w.trusted();
    assert.deepEqual(after.get(`${role}.json`), before.get(`${role}.json`));
    assert.deepEqual(after.get('targets.json'), before.get('targets.json'));
  });
}

test('key compromise below threshold: the same stolen key signing twice still counts once', async () => {
  await using w = await tufWorld(thresholdTwoRepo());
  await w.client().refresh();
  const before = await w.trusted();
  w.repo.bumpTimestamp();
  const md = JSON.parse(Buffer.from(w.repo.latest.get('timestamp')!).toString()) as {
    signatures: { keyid: string; sig: string }[];
  };
  // Keep only the first key's signature, twice.
  md.signatures = [md.signatures[0]!, md.signatures[0]!];
  w.server.behave('/metadata/timestamp.json', { kind: 'body', body: Buffer.from(JSON.stringify(md)) });
  await assert.rejects(w.client().refresh(), DataError);
  assert.deepEqual(await w.trusted(), before);
});

test('key compromise below threshold: a new root signed by 1 of 2 old root keys is refused', async () => {
  await using w = await tufWorld(thresholdTwoRepo());
  await w.client().refresh();
  const before = await w.trusted();
  const stolen = w.repo.keys.root[0]!;
  const attacker = [newKey(), newKey()];
  // The attacker makes himself the root and targets keys, signing with the stolen key and his own.
  w.repo.rotateRoot({ root: attacker, targets: attacker }, [stolen, ...attacker]);
  await assert.rejects(w.client().refresh(), refused(DataError, 'METADATA_REFUSED'));
  assert.deepEqual(await w.trusted(), before);
});

test('key compromise below threshold: a new root not signed by a threshold of its own new keys is refused', async () => {
  await using w = await tufWorld(thresholdTwoRepo());
  await w.client().refresh();
  const before = await w.trusted();
  const oldRoot = w.repo.keys.root;
  const newRoot = [newKey(), newKey()];
  w.repo.rotateRoot({ root: newRoot }, [...oldRoot, newRoot[0]!]);
  await assert.rejects(w.client().refresh(), refused(DataError, 'METADATA_REFUSED'));
  assert.deepEqual(await w.trusted(), before);
});

// Through the whole client: the installed app and the client's cached state stay as they were.
describe('key compromise through Client.check/install', () => {
  let world: ClientAttackWorld;
  before(async () => {
    world = await clientAttackWorld();
  });
  after(() => world.close());

  test('a timestamp signed by a real key of another role (targets) is refused', async () => {
    const inst = await world.install('wrong-role-key');
    const forged = await resignedTimestamp(
      world,
      (signed) => {
        signed['version'] = Number(signed['version']) + 1;
      },
      'targets',
    );
    await updateRefused(world, inst, 'METADATA_REFUSED', (server) =>
      server.behave('/metadata/timestamp.json', { kind: 'body', body: forged }),
    );
  });

  test('control: the same edit signed by the real timestamp key is accepted', async () => {
    const inst = await world.install('right-role-key');
    const real = await resignedTimestamp(world, (signed) => {
      signed['version'] = Number(signed['version']) + 1;
    });
    world.server.behave('/metadata/timestamp.json', { kind: 'body', body: real });
    try {
      const update = await inst.client().check();
      assert.equal(update.kind, 'patches');
    } finally {
      world.server.clearBehaviours();
    }
  });
});
