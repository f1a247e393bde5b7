/**
 * `notsotuf installer` (publisher) writes what a user downloads; the Linux client executable,
 * run from that folder with no Node, installs the app from a repository served on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { cli } from '../helpers/cli.js';
import { executablePlatform } from '../../src/repo/installer.js';
import { arm64ExeMissing, freshExecutable, runClientExe } from '../helpers/exe.js';
import { skipUnlessTool } from '../helpers/skip.js';
import { withTempDir } from '../support/temp-dir.js';
import { servedProject } from '../support/world.js';

let linuxExe: string;

before(async () => {
  linuxExe = await freshExecutable('linux-x64');
});

const served = servedProject();

async function newestRoot(): Promise<Buffer> {
  const names = (await readdir(join(served.project.config.repository, 'metadata'))).filter((n) =>
    /^\d+\.root\.json$/.test(n),
  );
  const newest = names.sort((a, b) => parseInt(a) - parseInt(b)).at(-1)!;
  return readFile(join(served.project.config.repository, 'metadata', newest));
}

test('installer writes the executable, root.json and update.json; the executable installs the newest release from it', async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, 'download');
    const r = await cli([
      'installer',
      '--config',
      served.project.config.file,
      '--platform',
      'linux-x64',
      '--base-url',
      `${served.server.url}/`,
      '--out',
      out,
    ]);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.match(r.stdout, /\.\/notsotuf-linux-x64 install --config update\.json/);
    assert.deepEqual((await readdir(out)).sort(), [
      'INSTALL.txt',
      'notsotuf-linux-x64',
      'root.json',
      'update.json',
    ]);
    assert.deepEqual(await readFile(join(out, 'root.json')), await newestRoot());
    assert.deepEqual(await readFile(join(out, 'notsotuf-linux-x64')), await readFile(linuxExe));
    assert.deepEqual(JSON.parse(await readFile(join(out, 'update.json'), 'utf8')), {
      appName: 'demo',
      installDir: 'app',
      metadataUrl: `${served.server.url}/metadata`,
      targetsUrl: `${served.server.url}/targets`,
      trustedRoot: 'root.json',
    });
    assert.deepEqual(await readdir(dir), ['download'], 'no temp folder left beside it');

    // What the user does: run the executable in the downloaded folder, no Node anywhere.
    const install = await runClientExe(['install', '--config', 'update.json', '--json'], { cwd: out });
    assert.equal(install.code, EXIT.ok, install.stderr);
    assert.equal((JSON.parse(install.stdout) as { status: string; version: string }).version, '1.1.0');
    assert.deepEqual(await hashFolderAsTar(join(out, 'app')), served.project.releases[1]?.result.tar);
    const check = await runClientExe(['check', '--config', 'update.json'], { cwd: out });
    assert.equal(check.code, EXIT.ok, check.stderr);
    assert.match(check.stdout, /up to date/);
  });
});

test('installer --platform win-x64 ships the Windows executable and a Windows INSTALL.txt', async () => {
  const winExe = await freshExecutable('win-x64');
  await withTempDir(async (dir) => {
    const out = join(dir, 'win');
    const r = await cli([
      'installer',
      '--config',
      served.project.config.file,
      '--platform',
      'win-x64',
      '--base-url',
      'https://updates.example.com/demo',
      '--out',
      out,
      '--install-dir',
      'C:\\Apps\\demo',
      '--channel',
      'beta',
    ]);
    assert.equal(r.code, EXIT.ok, r.stderr);
    assert.deepEqual(await readFile(join(out, 'notsotuf-win-x64.exe')), await readFile(winExe));
    const config = JSON.parse(await readFile(join(out, 'update.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(config.metadataUrl, 'https://updates.example.com/demo/metadata');
    assert.equal(config.targetsUrl, 'https://updates.example.com/demo/targets');
    assert.equal(config.channel, 'beta');
    assert.match(
      await readFile(join(out, 'INSTALL.txt'), 'utf8'),
      /\r\n {2}notsotuf-win-x64\.exe install --config update\.json\r\n/,
    );
  });
});

test('installer -- PROGRAM ARGS writes the app command into update.json, and the client reads it', async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, 'download');
    const r = await installer(out, [
      '--platform',
      'linux-x64',
      '--base-url',
      served.server.url,
      '--',
      'bin/demo',
      '--minimized',
      '--title=a b',
    ]);
    assert.equal(r.code, EXIT.ok, r.stderr);
    const updateJson = JSON.parse(await readFile(join(out, 'update.json'), 'utf8')) as { command?: unknown };
    assert.deepEqual(updateJson.command, ['bin/demo', '--minimized', '--title=a b']);
    // The client executable accepts the file as written (it refuses an unknown or malformed setting).
    const install = await runClientExe(['install', '--config', 'update.json', '--json'], { cwd: out });
    assert.equal(install.code, EXIT.ok, install.stderr);
    const check = await runClientExe(['check', '--config', 'update.json'], { cwd: out });
    assert.equal(check.code, EXIT.ok, check.stderr);
  });
});

/** Runs `installer` with `args` after the required ones, into `out`. */
function installer(out: string, args: string[]): ReturnType<typeof cli> {
  return cli(['installer', '--config', served.project.config.file, '--out', out, ...args]);
}

test('installer bad input: clear usage errors (exit 2) and nothing written', async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, 'out');
    const url = ['--base-url', served.server.url];
    const cases: [string[], RegExp][] = [
      [
        ['--platform', 'darwin-arm64', ...url],
        /unknown --platform "darwin-arm64": use linux-x64 or linux-arm64 or win-x64/,
      ],
      [
        ['--platform', 'linux-arm64', ...url, '--exe', linuxExe],
        /is a linux-x64 executable, not linux-arm64/,
      ],
      [[...url], /--platform is required/],
      [['--platform', 'linux-x64'], /--base-url is required/],
      [['--platform', 'linux-x64', '--base-url', 'ftp://example.com/x'], /http:\/\/ or https:\/\//],
      [['--platform', 'linux-x64', '--base-url', 'not a url'], /is not a URL/],
      [['--platform', 'linux-x64', ...url, '--exe', join(dir, 'missing')], /run "npm run build:exe"/],
      [['--platform', 'win-x64', ...url, '--exe', linuxExe], /is not a Windows executable/],
      [
        ['--platform', 'linux-x64', ...url, '--app', 'other'],
        /no release of other.*apps with releases: demo/,
      ],
      [['--platform', 'linux-x64', ...url, '--channel', 'nightly'], /not a channel/],
      [['--platform', 'linux-x64', ...url, '--'], /command needs a program/],
      [['--platform', 'linux-x64', ...url, '--', ''], /command needs a program/],
    ];
    for (const [args, message] of cases) {
      const r = await installer(out, args);
      assert.equal(r.code, EXIT.usage, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.deepEqual(await readdir(dir), [], `${args.join(' ')} wrote something`);
    }
  });
});

test('installer refuses an output folder that is not empty, and leaves it as it was', async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, 'out');
    await mkdir(out);
    await writeFile(join(out, 'mine.txt'), 'keep me');
    const r = await installer(out, ['--platform', 'linux-x64', '--base-url', served.server.url]);
    assert.equal(r.code, EXIT.usage, r.stderr);
    assert.match(r.stderr, /is not empty.*--out/);
    assert.deepEqual(await readdir(out), ['mine.txt']);
    assert.equal(await readFile(join(out, 'mine.txt'), 'utf8'), 'keep me');
    assert.deepEqual(await readdir(dir), ['out']);
  });
});

async function head(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

test("executablePlatform reads the OS and CPU from an executable's headers (ELF e_machine, PE Machine)", async () => {
  assert.equal(executablePlatform(await head(linuxExe)), 'linux-x64');
  assert.equal(executablePlatform(await head(await freshExecutable('linux-arm64'))), 'linux-arm64');
  const win = await head(await freshExecutable('win-x64'));
  assert.equal(executablePlatform(win), 'win-x64');
  const winArm = Buffer.from(win);
  winArm.writeUInt16LE(0xaa64, winArm.readUInt32LE(0x3c) + 4);
  assert.equal(executablePlatform(winArm), 'win-arm64');
  const riscv = Buffer.from(await head(linuxExe));
  riscv.writeUInt16LE(0xf3, 18);
  assert.equal(executablePlatform(riscv), 'linux-?');
  assert.equal(executablePlatform(Buffer.from('#!/bin/sh\necho hi\n')), undefined);
  assert.equal(executablePlatform(Buffer.from('MZ')), undefined, 'too short to be a PE file');
});

test(
  'installer --platform linux-arm64 ships the arm64 executable; it installs the app (run under qemu-user here)',
  { skip: skipUnlessTool(arm64ExeMissing()), timeout: 600_000 },
  async () => {
    const armExe = await freshExecutable('linux-arm64');
    await withTempDir(async (dir) => {
      const out = join(dir, 'download');
      const r = await installer(out, ['--platform', 'linux-arm64', '--base-url', served.server.url]);
      assert.equal(r.code, EXIT.ok, r.stderr);
      assert.match(r.stdout, /\.\/notsotuf-linux-arm64 install --config update\.json/);
      assert.deepEqual(await readFile(join(out, 'notsotuf-linux-arm64')), await readFile(armExe));
      const install = await runClientExe(['install', '--config', 'update.json', '--json'], {
        cwd: out,
        platform: 'linux-arm64',
      });
      assert.equal(install.code, EXIT.ok, install.stderr);
      assert.deepEqual(await hashFolderAsTar(join(out, 'app')), served.project.releases[1]?.result.tar);
    });
  },
);
