/**
 * Arbitrary software attack (spec 5.4.2, 5.5.3, 5.6.3, 5.7.3): a hostile server or mirror serves
 * a target whose bytes differ from the signed hash, or metadata signed by keys the client does not
 * trust. The download is refused before anything uses it, and trusted metadata stays as it was.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DataError } from '../../src/errors.js';
import { createFetcher } from '../../src/client/fetcher.js';
import { verifyTargetFile } from '../../src/client/tuf/index.js';
import { newKey } from '../helpers/tuf-repo.js';
import { refused, tufWorld } from '../helpers/tuf-world.js';
import { exitedPid } from '../support/fixture.js';
import { folderDigest } from '../support/world.js';
import { clientAttackWorld, updateRefused, type ClientAttackWorld } from '../helpers/client-attack-world.js';

for (const name of ['app-1.1.0.tar.gz', 'app-1.1.0.patch']) {
  test(`arbitrary software: ${name} with bytes that differ from the signed hash is refused`, async () => {
    await using w = await tufWorld();
    const good = Buffer.from(`the real ${name}`);
    w.repo.addTarget(name, good);
    w.repo.publishAll();
    const c = w.client();
    await c.refresh();
    const before = await w.trusted();
    const t = (await c.getTarget(name))!;
    // Same length, different bytes, served where the client looks for the signed hash.
    const evil = Buffer.from(good);
    evil[0] = evil[0]! ^ 0xff;
    w.server.files.set(new URL(c.targetUrl(t)).pathname, evil);
    const partial = join(w.dir, `${name}.partial`);
    await createFetcher().downloadTo(c.targetUrl(t), partial, { offset: 0, maxLength: t.length });
    await assert.rejects(verifyTargetFile(partial, t), refused(DataError, 'TARGET_MISMATCH'));
    assert.deepEqual(await readFile(partial), evil);
    assert.deepEqual(await w.trusted(), before);
  });
}

test('arbitrary software: a shorter target is refused', async () => {
  await using w = await tufWorld();
  w.repo.addTarget('a.tar.gz', 'complete content');
  w.repo.publishAll();
  const c = w.client();
  await c.refresh();
  const t = (await c.getTarget('a.tar.gz'))!;
  w.server.files.set(new URL(c.targetUrl(t)).pathname, Buffer.from('complete'));
  const partial = join(w.dir, 'a.partial');
  await createFetcher().downloadTo(c.targetUrl(t), partial, { offset: 0, maxLength: t.length });
  await assert.rejects(verifyTargetFile(partial, t), refused(DataError, 'TARGET_MISMATCH'));
});

for (const role of ['timestamp', 'snapshot', 'targets'] as const) {
  test(`arbitrary software: ${role} metadata signed by an untrusted key is refused`, async () => {
    await using w = await tufWorld();
    await w.client().refresh();
    const before = await w.trusted();
    w.repo.addTarget('evil-9.9.9.tar.gz', 'evil');
    w.repo.version.targets += 1;
    w.repo.publishTargets(role === 'targets' ? [newKey()] : undefined);
    w.repo.version.snapshot += 1;
    w.repo.publishSnapshot(role === 'snapshot' ? [newKey()] : undefined);
    w.repo.version.timestamp += 1;
    w.repo.publishTimestamp(role === 'timestamp' ? [newKey()] : undefined);
    await assert.rejects(w.client().refresh(), refused(DataError, 'METADATA_REFUSED'));
    const after = await w.trusted();
    assert.deepEqual(after.get(`${role}.json`), before.get(`${role}.json`));
    assert.ok(!after.get('targets.json')!.toString().includes('evil'));
  });
}

test('arbitrary software: a new root signed only by an attacker key is refused', async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  const before = await w.trusted();
  const attacker = newKey();
  w.repo.rotateRoot({ root: [attacker], targets: [attacker] }, [attacker]);
  await assert.rejects(w.client().refresh(), refused(DataError, 'METADATA_REFUSED'));
  assert.deepEqual(await w.trusted(), before);
});

test('arbitrary software: tampered metadata bytes (signature no longer matches) are refused', async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  const before = await w.trusted();
  w.repo.bumpTimestamp();
  const ts = Buffer.from(w.repo.latest.get('timestamp')!).toString().replace('"version": 2', '"version": 99');
  assert.ok(ts.includes('"version": 99'));
  w.server.behave('/metadata/timestamp.json', { kind: 'body', body: Buffer.from(ts) });
  await assert.rejects(w.client().refresh(), refused(DataError, 'METADATA_REFUSED'));
  assert.deepEqual(await w.trusted(), before);
});

// Through the whole client: the installed app and the client's cached state stay as they were.
describe('arbitrary software through Client.check/install', () => {
  let world: ClientAttackWorld;
  before(async () => {
    world = await clientAttackWorld();
  });
  after(() => world.close());

  const tampered = (suffix: string): { path: string; evil: Buffer } => {
    const path = [...world.server.files.keys()].find(
      (p) => p.startsWith('/targets/') && p.endsWith(`1.1.0${suffix}`),
    );
    assert.ok(path, [...world.server.files.keys()].join(' '));
    const evil = Buffer.from(world.server.files.get(path)!);
    evil[evil.length >> 1] = evil[evil.length >> 1]! ^ 0xff;
    return { path, evil };
  };

  test('a tampered archive is refused; app folder and cached state unchanged', async () => {
    const inst = await world.install('evil-archive', { modified: true });
    const { path, evil } = tampered('.tar.gz');
    await updateRefused(world, inst, 'TARGET_MISMATCH', (server) =>
      server.behave(path, { kind: 'body', body: evil }),
    );
  });

  test('a tampered patch is refused and the client falls back to the verified archive', async () => {
    const inst = await world.install('evil-patch');
    const { path, evil } = tampered('.patch');
    world.server.behave(path, { kind: 'body', body: evil });
    try {
      const appBefore = await folderDigest(inst.installDir);
      const client = inst.client();
      const update = await client.check();
      assert.equal(update.kind, 'patches');
      const staged = await client.install(update, { restart: false, pid: await exitedPid() });
      assert.equal(staged.via, 'full');
      assert.equal(staged.fellBack, true);
      // Staged beside the app, not swapped in: the app folder is untouched until quitAndInstall.
      assert.deepEqual(await folderDigest(inst.installDir), appBefore);
    } finally {
      world.server.clearBehaviours();
    }
  });
});
