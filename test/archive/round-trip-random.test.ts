import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { packFolder, packTar, unpackArchive } from '../../src/archive/index.js';
import { tempDir } from './tar-builder.js';
import { prngNumbers as prng } from '../support/random.js';

const PIECES = [
  'a',
  'B',
  'lib',
  'x.py',
  'é',
  '日本',
  'name with space',
  'long-'.repeat(12),
  '-',
  '_',
  '.hidden',
];

/** A random tree: folders, files of random sizes and modes, symlinks to earlier entries. */
async function randomTree(dir: string, rand: () => number): Promise<void> {
  const dirs = [''];
  const all: string[] = [];
  const used = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const parent = dirs[Math.floor(rand() * dirs.length)] as string;
    const name = `${PIECES[Math.floor(rand() * PIECES.length)]}${i}`;
    const path = parent === '' ? name : `${parent}/${name}`;
    if (used.has(path.toLowerCase())) continue;
    used.add(path.toLowerCase());
    const full = join(dir, ...path.split('/'));
    const kind = rand();
    if (kind < 0.25) {
      await mkdir(full);
      dirs.push(path);
    } else if (kind < 0.85 || all.length === 0) {
      const size = rand() < 0.2 ? 0 : Math.floor(rand() ** 3 * 200_000);
      await writeFile(full, Buffer.alloc(size, i));
      await chmod(full, rand() < 0.3 ? 0o755 : 0o644);
    } else {
      const target = all[Math.floor(rand() * all.length)] as string;
      await symlink(posix.relative(parent === '' ? '.' : parent, target) || '.', full);
    }
    all.push(path);
  }
}

test('random trees (seeded) round-trip: pack, unpack, repack gives the identical tar', async () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const root = await tempDir();
    try {
      const app = join(root, 'app');
      await mkdir(app);
      await randomTree(app, prng(seed));
      const packed = await packFolder(app, join(root, 'a.tar.gz'), { tarPath: join(root, 'a.tar') });
      await unpackArchive(join(root, 'a.tar.gz'), join(root, 'staging'));
      const again = await packTar(join(root, 'staging'), join(root, 'b.tar'));
      assert.deepEqual(again.tar, packed.tar, `seed ${seed}`);
      assert.deepEqual(
        await readFile(join(root, 'b.tar')),
        await readFile(join(root, 'a.tar')),
        `seed ${seed}`,
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
});
