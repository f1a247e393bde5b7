import assert from 'node:assert/strict';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { packTar } from '../../src/archive/index.js';
import { entryHints } from '../../src/diff/entry-hints.js';
import { tarEntries } from '../../src/diff/tar-entries.js';
import { prng, roundTrip, withTempDir } from './helpers.js';

const rand = prng(11);
const LONG = `deep/${'a-rather-long-folder-name/'.repeat(6)}file.bin`;

async function tarOf(dir: string, files: Record<string, Buffer>, name: string): Promise<Buffer> {
  const folder = join(dir, name);
  await rm(folder, { recursive: true, force: true });
  for (const [path, data] of Object.entries(files)) {
    await mkdir(join(folder, path, '..'), { recursive: true });
    await writeFile(join(folder, path), data);
  }
  await packTar(folder, join(dir, `${name}.tar`));
  return readFile(join(dir, `${name}.tar`));
}

const v1: Record<string, Buffer> = {
  'app/main.js': Buffer.from('console.log("hello");\n'.repeat(2000)),
  'app/lib/big.bin': rand(300_000),
  'app/lib/moved.bin': rand(100_000),
  'app/removed.txt': rand(50_000),
  'app/changed.bin': rand(200_000),
  [LONG]: rand(40_000),
};

function v2(): Record<string, Buffer> {
  const changed = Buffer.from(v1['app/changed.bin']!);
  for (let i = 0; i < changed.length; i += 1000) changed[i] = changed[i]! ^ 0xff;
  return {
    'app/main.js': Buffer.from('console.log("hello, world");\n'.repeat(2000)),
    'app/lib/big.bin': v1['app/lib/big.bin']!,
    'app/other/place/moved.bin': v1['app/lib/moved.bin']!, // moved
    'app/added.bin': rand(30_000),
    'app/changed.bin': changed,
    [LONG]: v1[LONG]!,
  };
}

test('real tar archives with changed, added, removed, moved and long-named entries round-trip', async () => {
  await withTempDir(async (dir) => {
    const a = await tarOf(dir, v1, 'v1');
    const b = await tarOf(dir, v2(), 'v2');
    const { patch, rebuilt } = await roundTrip(a, b);
    assert.ok(rebuilt.equals(b));
    // The added entry (30 000 random bytes) dominates; everything else costs little.
    assert.ok(patch.length < 30_000 + 6000, `patch is ${patch.length} bytes`);
  });
});

test('tar entries are read with their full (pax) long names, sizes and data offsets', async () => {
  await withTempDir(async (dir) => {
    const a = await tarOf(dir, v1, 'v1');
    const entries = tarEntries(a);
    const long = entries.find((e) => e.path.endsWith('file.bin'));
    assert.ok(long !== undefined, `no long-named entry in ${entries.map((e) => e.path).join(', ')}`);
    assert.ok(long.path.endsWith(LONG), long.path);
    assert.equal(long.size, 40_000);
    assert.ok(a.subarray(long.dataOffset, long.dataOffset + long.size).equals(v1[LONG]!));
  });
});

test('unchanged and moved entries become copy hints, changed ones alignment hints', async () => {
  await withTempDir(async (dir) => {
    const a = await tarOf(dir, v1, 'v1');
    const b = await tarOf(dir, v2(), 'v2');
    const byNewPath = new Map(tarEntries(b).map((e) => [e.dataOffset, e.path]));
    const hints = entryHints(a, b).map(
      (h) => `${h.kind} ${byNewPath.get(h.newStart)?.replace(/^.*?app\//, 'app/')}`,
    );
    assert.ok(hints.includes('copy app/lib/big.bin'), hints.join('; '));
    assert.ok(hints.includes('copy app/other/place/moved.bin'), hints.join('; '));
    assert.ok(hints.includes('align app/changed.bin'), hints.join('; '));
    assert.ok(!hints.some((h) => h.endsWith('added.bin')), hints.join('; '));
  });
});

test('garbage that looks a little like tar gives no hints and still round-trips', async () => {
  const a = Buffer.alloc(4096);
  a.write('name', 0);
  a.write('99999999999', 124); // size far past the end
  const b = Buffer.from(a);
  b[2000] = 1;
  assert.deepEqual(tarEntries(a), []);
  const { rebuilt } = await roundTrip(a, b);
  assert.ok(rebuilt.equals(b));
});

test('a renamed folder of many files round-trips with a small patch', async () => {
  await withTempDir(async (dir) => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 40; i++) files[`lib/mod${i}.bin`] = rand(5000 + i);
    const a = await tarOf(dir, files, 'a');
    await rename(join(dir, 'a'), join(dir, 'b-src'));
    const moved: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(files)) moved[k.replace('lib/', 'vendor/lib2/')] = v;
    const b = await tarOf(dir, moved, 'b');
    const { patch, rebuilt } = await roundTrip(a, b);
    assert.ok(rebuilt.equals(b));
    assert.ok(patch.length < 4000, `patch is ${patch.length} bytes for ${b.length} bytes of moved files`);
  });
});
