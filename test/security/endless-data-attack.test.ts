/**
 * Endless data attack (spec 5.4.1, 5.5.1, 5.6.1, 5.7.3): a hostile server answers with more bytes
 * than the signed (or configured) length, to fill the disk or memory. Every read stops at the
 * length: signed lengths for targets and for metadata the snapshot/timestamp describes, and fixed
 * caps for root and timestamp, whose length nothing signs.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DataError } from '../../src/errors.js';
import { createFetcher } from '../../src/client/fetcher.js';
import { refused, tufWorld } from '../helpers/tuf-world.js';
import { clientAttackWorld, updateRefused, type ClientAttackWorld } from '../helpers/client-attack-world.js';

const MiB = 1024 * 1024;

test('endless data: a target download stops at the signed length', async () => {
  await using w = await tufWorld();
  const body = Buffer.alloc(10_000, 7);
  w.repo.addTarget('app-1.0.0.tar.gz', body);
  w.repo.publishAll();
  const c = w.client();
  await c.refresh();
  const t = (await c.getTarget('app-1.0.0.tar.gz'))!;
  w.server.behave(new URL(c.targetUrl(t)).pathname, { kind: 'endless', limit: 64 * MiB });
  const partial = join(w.dir, 'app.partial');
  await assert.rejects(
    createFetcher().downloadTo(c.targetUrl(t), partial, { offset: 0, maxLength: t.length }),
    refused(DataError, 'TOO_LONG'),
  );
  assert.equal((await stat(partial)).size, t.length);
  assert.deepEqual(await readFile(partial), body);
  assert.ok(w.server.bytesSent < 16 * MiB, `the client kept reading: ${w.server.bytesSent} bytes sent`);
});

test('endless data: timestamp.json (no signed length) stops at the configured cap', async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  const before = await w.trusted();
  w.server.behave('/metadata/timestamp.json', { kind: 'endless', limit: 64 * MiB });
  await assert.rejects(w.client({ timestampMaxLength: 16_384 }).refresh(), refused(DataError, 'TOO_LONG'));
  assert.ok(w.server.bytesSent < 16 * MiB, `the client kept reading: ${w.server.bytesSent} bytes sent`);
  assert.deepEqual(await w.trusted(), before);
});

test('endless data: a new root version stops at the configured cap', async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  const before = await w.trusted();
  w.repo.rotateRoot();
  w.server.behave('/metadata/2.root.json', { kind: 'endless', limit: 64 * MiB });
  await assert.rejects(w.client({ rootMaxLength: 100_000 }).refresh(), refused(DataError, 'TOO_LONG'));
  assert.deepEqual(await w.trusted(), before);
});

for (const role of ['snapshot', 'targets'] as const) {
  test(`endless data: ${role}.json stops at the length signed for it`, async () => {
    await using w = await tufWorld();
    await w.client().refresh();
    const before = await w.trusted();
    w.repo.publishAll();
    w.server.behave(`/metadata/${w.repo.version[role]}.${role}.json`, { kind: 'endless', limit: 64 * MiB });
    await assert.rejects(w.client().refresh(), refused(DataError, 'TOO_LONG'));
    assert.ok(w.server.bytesSent < 16 * MiB, `the client kept reading: ${w.server.bytesSent} bytes sent`);
    assert.deepEqual((await w.trusted()).get(`${role}.json`), before.get(`${role}.json`));
  });
}

// Through the whole client: the installed app and the client's cached state stay as they were.
describe('endless data through Client.check/install', () => {
  let world: ClientAttackWorld;
  before(async () => {
    world = await clientAttackWorld();
  });
  after(() => world.close());

  test('an archive served without end stops at its signed length and is refused', async () => {
    const inst = await world.install('endless', { modified: true });
    const archive = [...world.server.files.keys()].find((p) => p.endsWith('1.1.0.tar.gz'))!;
    await updateRefused(world, inst, 'TOO_LONG', (server) =>
      server.behave(archive, { kind: 'endless', limit: 64 * MiB }),
    );
  });
});
