/**
 * Slow retrieval attack: a hostile server sends a file so slowly that the client never finishes
 * (and so never updates). A server that goes silent is stopped by the stall timeout; one that
 * trickles a byte now and then, by the whole-request timeout. A later run resumes the download.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

// A removed timeout must fail a test, not hang the suite.
const LIMIT = { timeout: 15_000 };
import { TransportError } from '../../src/errors.js';
import { createFetcher } from '../../src/client/fetcher.js';
import { verifyTargetFile } from '../../src/client/tuf/index.js';
import { refused, tufWorld } from '../helpers/tuf-world.js';
import { clientAttackWorld, updateRefused, type ClientAttackWorld } from '../helpers/client-attack-world.js';

test(
  'slow retrieval: a target download that stalls is stopped by the stall timeout, then resumes',
  LIMIT,
  async () => {
    await using w = await tufWorld();
    const body = Buffer.alloc(50_000, 3);
    w.repo.addTarget('app-1.0.0.tar.gz', body);
    w.repo.publishAll();
    const c = w.client();
    await c.refresh();
    const t = (await c.getTarget('app-1.0.0.tar.gz'))!;
    const path = new URL(c.targetUrl(t)).pathname;
    w.server.behave(path, { kind: 'stall', after: 20_000 }, 1);
    const partial = join(w.dir, 'app.partial');
    // 2 s, well under the server's 8 s stall: at 500 ms a loaded machine sometimes timed out
    // before the first bytes were written, and there was no partial file to resume from.
    const fetcher = createFetcher({ stallTimeoutMs: 2000 });
    await assert.rejects(
      fetcher.downloadTo(c.targetUrl(t), partial, { offset: 0, maxLength: t.length }),
      refused(TransportError, 'STALLED'),
    );
    // What arrived before the stall is kept (a prefix of the file; on a loaded machine the last
    // bytes may still have been in flight), and the next run resumes from there.
    const kept = await readFile(partial);
    assert.ok(kept.length > 0 && kept.length <= 20_000, `kept ${kept.length} bytes`);
    assert.deepEqual(kept, body.subarray(0, kept.length));
    await fetcher.downloadTo(c.targetUrl(t), partial, { offset: kept.length, maxLength: t.length });
    await verifyTargetFile(partial, t);
    assert.ok(w.server.requests.includes(`${path} [bytes=${kept.length}-]`), w.server.requests.join(' '));
  },
);

test(
  'slow retrieval: a target trickled byte by byte is stopped by the whole-request timeout',
  LIMIT,
  async () => {
    await using w = await tufWorld();
    w.repo.addTarget('app-1.0.0.tar.gz', Buffer.alloc(50_000, 3));
    w.repo.publishAll();
    const c = w.client();
    await c.refresh();
    const t = (await c.getTarget('app-1.0.0.tar.gz'))!;
    w.server.behave(new URL(c.targetUrl(t)).pathname, { kind: 'trickle', chunk: 1, intervalMs: 10 });
    await assert.rejects(
      createFetcher({ stallTimeoutMs: 4000, timeoutMs: 400 }).downloadTo(c.targetUrl(t), join(w.dir, 'p'), {
        offset: 0,
        maxLength: t.length,
      }),
      refused(TransportError, 'TIMEOUT'),
    );
  },
);

test(
  'slow retrieval: a stalled timestamp.json fails the refresh without touching trusted metadata',
  LIMIT,
  async () => {
    await using w = await tufWorld();
    await w.client().refresh();
    const before = await w.trusted();
    w.repo.bumpTimestamp();
    w.server.behave('/metadata/timestamp.json', { kind: 'stall', after: 10 });
    await assert.rejects(
      w.client({ fetcher: { stallTimeoutMs: 300 } }).refresh(),
      refused(TransportError, 'STALLED'),
    );
    assert.deepEqual(await w.trusted(), before);
  },
);

test('slow retrieval: trickled metadata is stopped by the metadata timeout', LIMIT, async () => {
  await using w = await tufWorld();
  await w.client().refresh();
  const before = await w.trusted();
  w.repo.publishAll();
  w.server.behave('/metadata/2.snapshot.json', { kind: 'trickle', chunk: 1, intervalMs: 10 });
  await assert.rejects(
    w.client({ fetcher: { stallTimeoutMs: 4000, timeoutMs: 400 } }).refresh(),
    refused(TransportError, 'TIMEOUT'),
  );
  assert.deepEqual((await w.trusted()).get('snapshot.json'), before.get('snapshot.json'));
});

test(
  'slow retrieval: metadata trickled just above the stall timeout is stopped by the rate floor',
  LIMIT,
  async () => {
    await using w = await tufWorld();
    await w.client().refresh();
    const before = await w.trusted();
    w.repo.publishAll();
    w.server.behave('/metadata/2.snapshot.json', { kind: 'trickle', chunk: 1, intervalMs: 10 });
    await assert.rejects(
      w
        .client({
          fetcher: { stallTimeoutMs: 5000, timeoutMs: 60_000, minBytesPerSecond: 1000, rateWindowMs: 300 },
        })
        .refresh(),
      refused(TransportError, 'TOO_SLOW'),
    );
    assert.deepEqual((await w.trusted()).get('snapshot.json'), before.get('snapshot.json'));
  },
);

// Through the whole client: the installed app and the client's cached state stay as they were.
describe('slow retrieval through Client.check/install', () => {
  let world: ClientAttackWorld;
  before(async () => {
    world = await clientAttackWorld();
  });
  after(() => world.close());

  test('an archive download that stalls is stopped by the stall timeout', LIMIT, async () => {
    const installed = await world.install('stall', { modified: true });
    // This client meets the stalling server: a short stall timeout, well under the server's own
    // 8 s give-up (the default 30 s would see the server drop the connection first: NETWORK).
    const inst = {
      ...installed,
      client: (extra = {}) => installed.client({ stallTimeoutMs: 1500, ...extra }),
    };
    const archive = [...world.server.files.keys()].find((p) => p.endsWith('1.1.0.tar.gz'))!;
    await updateRefused(world, inst, 'STALLED', (server) =>
      server.behave(archive, { kind: 'stall', after: 1000 }),
    );
  });
});
