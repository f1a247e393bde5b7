import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli, cliProcess } from '../helpers/cli.js';
import { prng, withTempDir } from './helpers.js';

const rand = prng(5);

test('notsotuf diff then notsotuf patch rebuilds the new file (real process, exit 0)', async () => {
  await withTempDir(async (dir) => {
    const a = rand(50_000);
    const b = Buffer.concat([a.subarray(0, 20_000), rand(100), a.subarray(20_000)]);
    await writeFile(join(dir, 'old.tar'), a);
    await writeFile(join(dir, 'new.tar'), b);
    // Absolute paths: the child runs from the repository (where tsx resolves).
    const [o, n, pa, out] = ['old.tar', 'new.tar', 'p.patch', 'out.tar'].map((f) => join(dir, f)) as [
      string,
      string,
      string,
      string,
    ];
    const d = await cliProcess(['diff', o, n, pa]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /wrote .*p\.patch: \d+ bytes/);
    const p = await cliProcess(['patch', o, pa, out, '--json']);
    assert.equal(p.code, 0, p.stderr);
    assert.equal((JSON.parse(p.stdout) as { length: number }).length, b.length);
    assert.ok((await readFile(join(dir, 'out.tar'))).equals(b));
  });
});

test('diff with a missing input: exit 2 and a message naming the file', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'new.tar'), rand(10));
    const r = await cli(['diff', 'nope.tar', 'new.tar', 'p.patch'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /old archive .*nope\.tar does not exist/);
    assert.deepEqual(await readdir(dir), ['new.tar']);
  });
});

test('patch with a missing patch file or old archive: exit 2, no output', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'old.tar'), rand(10));
    const r = await cli(['patch', 'old.tar', 'missing.patch', 'out.tar'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /patch .*missing\.patch does not exist/);
    await writeFile(join(dir, 'new.tar'), rand(20));
    assert.equal((await cli(['diff', 'old.tar', 'new.tar', 'p'], { cwd: dir })).code, 0);
    const r2 = await cli(['patch', 'gone.tar', 'p', 'out.tar'], { cwd: dir });
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /old archive .*gone\.tar does not exist/);
    assert.ok(!(await readdir(dir)).some((f) => f.startsWith('out.tar')));
  });
});

test('patch with the wrong old archive: exit 1, a message that says what to do, no output', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'old.tar'), rand(1000));
    await writeFile(join(dir, 'new.tar'), rand(1000));
    await writeFile(join(dir, 'other.tar'), rand(1000));
    assert.equal((await cli(['diff', 'old.tar', 'new.tar', 'p'], { cwd: dir })).code, 0);
    const r = await cli(['patch', 'other.tar', 'p', 'out.tar'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not the archive this patch applies to.*download the full archive/);
    assert.ok(!(await readdir(dir)).some((f) => f.startsWith('out.tar')));
  });
});

test('wrong number of arguments: exit 2 with usage', async () => {
  assert.equal((await cli(['diff', 'a', 'b'])).code, 2);
  assert.equal((await cli(['patch', 'a'])).code, 2);
});
