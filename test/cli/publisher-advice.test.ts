import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatSize } from '../../src/cli/format-size.js';
import { cli } from '../helpers/cli.js';
import { hashTree, tempDir } from '../repo/publisher-fixture.js';

/** Messages that say what to do next, and one size convention for publisher and client. */

test('a wrong passphrase says where it came from and what to do (exit 2, nothing written)', async () => {
  const dir = await tempDir();
  const init = await cli(['init', '--yes', '--app', 'demo', '--encrypt'], {
    cwd: dir,
    env: { NOTSOTUF_PASSPHRASE: 'right one' },
  });
  assert.equal(init.code, 0, init.stderr);
  await mkdir(join(dir, 'build'));
  await writeFile(join(dir, 'build', 'main.js'), 'console.log(1);\n');
  const before = await hashTree(join(dir, 'repository'));
  const r = await cli(['release', 'add', '1.0.0', 'build'], {
    cwd: dir,
    env: { NOTSOTUF_PASSPHRASE: 'wrong one' },
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /wrong passphrase for key "targets"/);
  assert.match(r.stderr, /from NOTSOTUF_PASSPHRASE/);
  assert.match(r.stderr, /NOTSOTUF_PASSPHRASE_TARGETS/);
  assert.match(r.stderr, /cannot be recovered.*keys replace/);
  assert.deepEqual(await hashTree(join(dir, 'repository')), before);
});

test('keys revoke of an unknown key lists the keys it could mean, instead of advising "keys new"', async () => {
  const dir = await tempDir();
  assert.equal((await cli(['init', '--yes', '--app', 'demo'], { cwd: dir })).code, 0);
  const r = await cli(['keys', 'revoke', 'nosuch'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.doesNotMatch(r.stderr, /keys new/);
  assert.match(r.stderr, /no key "nosuch" to revoke/);
  assert.match(r.stderr, /targets \([0-9a-f]{12}, signs targets\)/);
  assert.match(r.stderr, /notsotuf keys list/);
  const replace = await cli(['keys', 'replace', 'nosuch', 'other'], { cwd: dir });
  assert.equal(replace.code, 2);
  assert.match(replace.stderr, /no key "nosuch" to replace/);
});

test('one size convention (decimal kB/MB) for publisher and client output', async () => {
  assert.equal(formatSize(999), '999 B');
  assert.equal(formatSize(1500), '1.5 kB');
  assert.equal(formatSize(63_000_000), '63.0 MB');
  assert.equal(formatSize(2_500_000_000), '2.50 GB');
  const dir = await tempDir();
  assert.equal((await cli(['init', '--yes', '--app', 'demo'], { cwd: dir })).code, 0);
  await mkdir(join(dir, 'build'));
  await writeFile(join(dir, 'build', 'data.bin'), Buffer.alloc(300_000, 1));
  const r = await cli(['release', 'add', '1.0.0', 'build'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /tar 301\.\d kB\)/);
  assert.doesNotMatch(r.stdout, /KiB|MiB/);
});

test('release prune --keep 1 says why at least 2 versions are kept, and --help says the minimum', async () => {
  const dir = await tempDir();
  assert.equal((await cli(['init', '--yes', '--app', 'demo'], { cwd: dir })).code, 0);
  const r = await cli(['release', 'prune', '--keep', '1'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /at least 2: a client that read the previous snapshot/);
  assert.match((await cli(['release', 'prune', '--help'])).stdout, /--keep VALUE +.*at least 2/);
});
