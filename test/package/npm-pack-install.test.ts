import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/cli.js';

/**
 * The package as users get it: `npm pack` of a fresh clone (no dist/ yet; the prepare script must
 * build it), installed with npm into a new project, then the `notsotuf` command and
 * `import { Client } from 'notsotuf'` used from there. Dependencies come from the npm cache or
 * registry; the package itself only from the local tarball.
 */
const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const work = await mkdtemp(join(tmpdir(), 'notsotuf-pack-'));
after(() => rm(work, { recursive: true, force: true }));

/** What a fresh clone holds: the tracked and new (not ignored) files of this tree, without dist/. */
async function freshClone(dest: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  for (const rel of stdout.split('\0').filter((f) => f !== '')) {
    const to = join(dest, rel);
    await mkdir(dirname(to), { recursive: true });
    await cp(join(ROOT, rel), to, { force: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e; // deleted in the work tree but not yet in the index
    });
  }
  // `npm ci` would install the dev tools; the ones of this checkout are the same versions.
  await symlink(join(ROOT, 'node_modules'), join(dest, 'node_modules'), 'dir');
}

test(
  'npm pack of a fresh clone builds dist/ (prepare), and the installed package runs the CLI and the imports',
  { timeout: 15 * 60_000 },
  async () => {
    const clone = join(work, 'clone');
    await freshClone(clone);
    assert.equal((await readdir(clone)).includes('dist'), false, 'the clone starts without dist/');
    const packed = await run(NPM, ['pack', '--json', '--pack-destination', work], {
      cwd: clone,
      maxBuffer: 64 * 1024 * 1024,
    });
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as {
      filename: string;
      files: { path: string }[];
    }[];
    assert.ok(info);
    const files = info.files.map((f) => f.path);
    for (const needed of [
      'bin/notsotuf.js',
      'dist/src/cli/bin.js',
      'dist/src/client/index.js',
      'dist/src/client/index.d.ts',
      'dist/src/repo/index.js',
      'dist/src/diff/index.js',
      'package.json',
    ])
      assert.ok(files.includes(needed), `${needed} is in the tarball`);
    assert.equal(
      files.filter((f) => f.startsWith('dist/test/') || f.startsWith('dist/bench/') || f.startsWith('test/'))
        .length,
      0,
      'no tests in the tarball',
    );

    const user = join(work, 'user-project');
    await mkdir(user);
    await writeFile(
      join(user, 'package.json'),
      JSON.stringify({ name: 'user-project', private: true, type: 'module' }),
    );
    await run(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, info.filename)], {
      cwd: user,
      maxBuffer: 64 * 1024 * 1024,
    });
    const bin = join(
      user,
      'node_modules',
      '.bin',
      process.platform === 'win32' ? 'notsotuf.cmd' : 'notsotuf',
    );
    const version = await run(bin, ['--version'], { cwd: user });
    assert.match(version.stdout, /^notsotuf \d+\.\d+\.\d+/);
    // The publisher CLI works from the installed package.
    const init = await run(bin, ['init', '--yes', '--app', 'demo'], { cwd: user });
    assert.match(init.stdout, /Created/);
    await mkdir(join(user, 'build'));
    await writeFile(join(user, 'build', 'main.js'), 'console.log("hi");\n');
    const release = await run(bin, ['release', 'add', '1.0.0', 'build'], { cwd: user });
    assert.match(release.stdout, /Released demo 1\.0\.0/);
    // The two entry points import by package name.
    await writeFile(
      join(user, 'use.mjs'),
      [
        "import { Client, NotsotufError } from 'notsotuf';",
        "import { readReleases } from 'notsotuf/repo';",
        "import { applyPatch, createPatch, readPatchHeader } from 'notsotuf/diff';",
        "const releases = await readReleases({ repository: 'repository', keys: 'keys', cache: '.notsotuf-cache', app: 'demo', expiry: { root: 365, targets: 90, snapshot: 7, timestamp: 1 } });",
        "import { writeFileSync } from 'node:fs';",
        "writeFileSync('old.bin', 'hello world, version one');",
        "writeFileSync('new.bin', 'hello world, version two!');",
        "await createPatch('old.bin', 'new.bin', 'p.patch');",
        "await applyPatch('old.bin', 'p.patch', 'out.bin');",
        "const header = await readPatchHeader('p.patch');",
        "console.log(typeof Client, typeof NotsotufError, releases.map((r) => r.version).join(','), typeof header);",
      ].join('\n'),
    );
    const used = await run(process.execPath, ['use.mjs'], { cwd: user });
    assert.equal(used.stdout.trim(), 'function function 1.0.0 object');
    assert.equal(await readFile(join(user, 'out.bin'), 'utf8'), 'hello world, version two!');
  },
);
