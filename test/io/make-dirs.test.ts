import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeDirs } from '../../src/io/make-dirs.js';
import { withTempDir } from '../support/temp-dir.js';

test('makeDirs creates every missing level, with the mode asked, and accepts a folder that is there', () =>
  withTempDir(async (dir) => {
    const deep = join(dir, 'a', 'b', 'c');
    await makeDirs(deep, 0o700);
    for (const level of [join(dir, 'a'), join(dir, 'a', 'b'), deep]) {
      const s = await stat(level);
      assert.ok(s.isDirectory(), level);
      if (process.platform !== 'win32') assert.equal(s.mode & 0o777, 0o700, level);
    }
    await makeDirs(deep);
    await makeDirs(dir);
    assert.deepEqual(await readdir(join(dir, 'a', 'b')), ['c']);
  }));

test("makeDirs fails like Node's recursive mkdir: EEXIST on a file, ENOTDIR under one, ENOENT through a dangling link", () =>
  withTempDir(async (dir) => {
    const file = join(dir, 'file');
    await writeFile(file, 'x');
    await assert.rejects(makeDirs(file), { code: 'EEXIST' });
    await assert.rejects(makeDirs(join(file, 'sub', 'deeper')), { code: 'ENOTDIR' });
    if (process.platform !== 'win32') {
      await symlink(join(dir, 'nowhere'), join(dir, 'dangling'));
      await assert.rejects(makeDirs(join(dir, 'dangling', 'x')), { code: 'ENOENT' });
      await assert.rejects(makeDirs(join(dir, 'dangling')), { code: 'ENOENT' });
      assert.equal(existsSync(join(dir, 'nowhere')), false, 'a link is never followed to make its target');
    }
  }));

test('makeDirs: many racing callers on the same path all succeed', () =>
  withTempDir(async (dir) => {
    const deep = join(dir, 'x', 'y', 'z');
    await Promise.all(Array.from({ length: 16 }, () => makeDirs(deep)));
    assert.ok((await stat(deep)).isDirectory());
    await mkdir(join(dir, 'x', 'y', 'z', 'w'));
  }));

// Node.js 20's recursive mkdir loops forever here (the reason makeDirs exists): this test would
// hang until the runner's timeout with `mkdir(path, { recursive: true })` in its place.
test(
  'makeDirs under /proc ends with ENOENT instead of looping forever',
  { skip: process.platform !== 'linux' && 'Linux /proc', timeout: 20_000 },
  async () => {
    await assert.rejects(makeDirs('/proc/notsotuf-no-such/a/b'), { code: 'ENOENT' });
  },
);
