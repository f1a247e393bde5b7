/**
 * Fault, publisher side: `publish DEST` killed with SIGKILL while it copies a large target into
 * DEST (a web server's root). Whatever DEST serves under a final name must be a whole file of the
 * repository: the copy goes to a temp name and is renamed into place. The next publish finishes
 * the job. The kill lands at a point the child observes (a file in DEST holding part of its bytes),
 * so every run really kills.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { isTempName } from '../../src/io/temp-name.js';
import { addRelease, initRepository } from '../../src/repo/index.js';
import { publishRepository } from '../../src/repo/publish.js';
import { pseudoRandom, TSX_LOADER } from '../support/fixture.js';
import { appFolder, tempDir } from '../repo/publisher-fixture.js';
import type { PublishChildSettings } from './publish-child.js';
import { exited } from './processes.js';

const CHILD = fileURLToPath(new URL('./publish-child.ts', import.meta.url));

async function files(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(relative(root, p).split(sep).join('/'));
    }
  };
  await walk(root);
  return out.sort();
}

test('publish killed while copying a large target: DEST serves no partial file under a final name; the next publish completes', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  const app = await appFolder(apps, '1.0.0');
  // Random bytes do not compress: the archive stays about this big, and its copy takes a while.
  await writeFile(join(app, 'big.bin'), pseudoRandom(48 * 1024 * 1024, 7));
  const added = await addRelease(config, '1.0.0', app);
  const dest = join(await tempDir('notsotuf-dest-'), 'www');
  const settings: PublishChildSettings = {
    repository: config.repository,
    dest,
    bigBytes: added.archive.length,
    marker: join(dir, 'marker'),
  };
  await writeFile(join(dir, 'settings.json'), JSON.stringify(settings));
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CHILD, join(dir, 'settings.json')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const { code, signal } = await exited(child);
  const marker = await readFile(settings.marker, 'utf8');
  assert.equal(signal, 'SIGKILL', `publish was not killed mid-copy (exit ${code}, ${marker}): ${stderr}`);
  assert.match(marker, /^partial /);

  // Every file DEST holds under a final name is whole: the repository's own bytes.
  const there = await files(dest);
  const finals = there.filter((rel) => !isTempName(rel.split('/').at(-1)!));
  const partials = there.filter((rel) => isTempName(rel.split('/').at(-1)!));
  assert.equal(
    partials.length,
    1,
    `the interrupted copy is a temp file (${marker}; DEST: ${there.join(', ')})`,
  );
  for (const rel of finals) {
    assert.deepEqual(
      await readFile(join(dest, rel)),
      await readFile(join(config.repository, rel)),
      `${rel} in DEST is not the repository's file`,
    );
  }

  // The next publish completes: DEST then holds every file of the repository, byte for byte.
  await publishRepository(config.repository, dest);
  const want = (await files(config.repository)).filter((rel) => !isTempName(rel.split('/').at(-1)!));
  const after = (await files(dest)).filter((rel) => !isTempName(rel.split('/').at(-1)!));
  assert.deepEqual(after, want);
  for (const rel of want) {
    assert.ok((await readFile(join(dest, rel))).equals(await readFile(join(config.repository, rel))), rel);
  }
});
