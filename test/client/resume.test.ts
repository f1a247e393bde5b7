import assert from 'node:assert/strict';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client } from '../../src/client/client.js';
import type { DownloadProgress } from '../../src/client/client-options.js';
import { clientOptions } from '../support/fixture.js';
import { servedProject } from '../support/world.js';

const served = servedProject();

/** A client whose install folder does not rebuild to the signed tar, so the plan is the full archive. */
async function fullUpdateClient(name: string): Promise<{ root: string; stateDir: string; client: Client }> {
  const inst = await served.install(name, { modified: true });
  return { root: inst.root, stateDir: inst.stateDir, client: inst.client() };
}

test('a download interrupted half way resumes from where it stopped, after a restart too (the server sees a Range request)', async () => {
  const { root, stateDir, client } = await fullUpdateClient('resume');
  try {
    const update = await client.check();
    assert.equal(update.kind, 'full');
    if (update.kind !== 'full') return;
    const total = update.archive.target.length;
    const half = Math.floor(total / 2);
    const urlPath = served.server.log.length; // requests before ours
    const archiveName = update.archive.target.path;
    const stored = (await readdir(join(served.project.config.repository, 'targets'))).find((n) =>
      n.endsWith(archiveName),
    );
    assert.ok(stored);
    served.server.behave(`/targets/${stored}`, { kind: 'cut', after: half }, 1);

    await assert.rejects(client.download(update), { name: 'TransportError' });
    const downloads = join(stateDir, 'downloads');
    const partial = (await readdir(downloads)).find((n) => n.endsWith('.partial'));
    assert.ok(partial, 'the partial file is kept');
    const kept = (await stat(join(downloads, partial))).size;
    assert.ok(kept > 0 && kept <= half, `kept ${kept} of the ${half} bytes sent`);

    // The app quits and starts again: a new Client, a new check, and the download resumes.
    const restarted = new Client(
      clientOptions(served.project, served.server.url, join(root, 'apps', 'demo'), stateDir),
    );
    const again = await restarted.check();
    assert.equal(again.kind, 'full');
    const progress: DownloadProgress[] = [];
    await restarted.download(again, { onProgress: (p) => progress.push(p) });
    const ours = served.server.log.slice(urlPath).filter((r) => r.path === `/targets/${stored}`);
    assert.deepEqual(
      ours.map((r) => [r.range, r.status, r.bytes]),
      [
        [undefined, 200, half],
        [`bytes=${kept}-`, 206, total - kept],
      ],
    );
    assert.deepEqual(
      (await readdir(downloads)).filter((n) => n.endsWith('.partial')),
      [],
      'no partial file left once verified',
    );
    // Progress covers the whole update: it starts at the resumed offset and ends at the total.
    assert.equal(progress[0]?.bytesDone, kept);
    assert.equal(progress.at(-1)?.bytesDone, total);
    assert.ok(progress.every((p) => p.totalBytes === total));
    assert.ok(progress.every((p, i) => i === 0 || p.bytesDone >= progress[i - 1]!.bytesDone));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('cancelling a download with an AbortSignal stops it and keeps the partial file for later', async () => {
  const { root, stateDir, client } = await fullUpdateClient('cancel');
  try {
    const update = await client.check();
    if (update.kind === 'none') assert.fail('expected an update');
    const controller = new AbortController();
    await assert.rejects(
      client.download(update, {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.bytesDone > 0) controller.abort();
        },
      }),
    );
    const left = await readdir(join(stateDir, 'downloads'));
    assert.ok(
      left.every((n) => n.endsWith('.partial')),
      left.join(','),
    );
    await client.download(update);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a stale partial file longer than the signed length is discarded, not trusted', async () => {
  const { root, stateDir, client } = await fullUpdateClient('stale');
  try {
    const update = await client.check();
    if (update.kind !== 'full') assert.fail('expected a full update');
    const name = `${update.archive.target.hashes.sha256!.slice(0, 16)}.${update.archive.target.path}`;
    await mkdir(join(stateDir, 'downloads'), { recursive: true });
    await writeFile(
      join(stateDir, 'downloads', `${name}.partial`),
      Buffer.alloc(update.archive.target.length + 10),
    );
    await client.download(update);
    assert.equal((await stat(join(stateDir, 'downloads', name))).size, update.archive.target.length);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
