/**
 * `npm run bench:exe`: the single-file client executables against `node bin/notsotuf.js`.
 * - size of each executable on disk and with gzip -9 (what a download of it costs);
 * - start to exit and peak memory (/usr/bin/time -v) of `--version` and of a no-update `check`
 *   against a local repository (made by our publisher, served on 127.0.0.1 by `serve`'s code),
 *   the Linux executable and `node bin/notsotuf.js` side by side in one run, alternating, median of
 *   RUNS runs after one warm-up each.
 * Usage: npm run bench:exe [-- RUNS]   (default 7). Builds what is missing (dist/ and dist/exe/).
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createGzip, constants } from 'node:zlib';
import { exeName, freshExecutable } from '../scripts/exe/build.js';
import { ROOT } from '../scripts/exe/bundle.js';
import { EXE_PLATFORMS, NODE_VERSION } from '../scripts/exe/node-binary.js';
import { addRelease, initRepository, serveRepository } from '../src/repo/index.js';
import type { Measured } from './lib/measure.js';
import { measure } from './lib/measure.js';

const RUNS = Number(process.argv[2] ?? 7);
const MB = 1e6;

async function gzippedSize(file: string): Promise<number> {
  let size = 0;
  await pipeline(
    createReadStream(file),
    createGzip({ level: constants.Z_BEST_COMPRESSION }),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        done();
      },
    }),
  );
  return size;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

interface Row {
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly peakMb: number;
}

function summary(runs: Measured[]): Row {
  return {
    seconds: median(runs.map((r) => r.seconds)),
    cpuSeconds: median(runs.map((r) => r.cpuSeconds)),
    peakMb: median(runs.map((r) => r.peakMb)),
  };
}

// 1. Sizes.
console.log(`Node ${NODE_VERSION} single executables (npm run build:exe), gzip -9:\n`);
console.log('| executable | on disk | gzip -9 |');
console.log('| --- | ---: | ---: |');
for (const platform of EXE_PLATFORMS) {
  const file = await freshExecutable(platform);
  const size = (await stat(file)).size;
  const gz = await gzippedSize(file);
  console.log(`| ${exeName(platform)} | ${(size / MB).toFixed(1)} MB | ${(gz / MB).toFixed(1)} MB |`);
}

// 2. Start to exit.
if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'bin.js'))) {
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
}
const exe = await freshExecutable('linux-x64');
const nodeCli = join(ROOT, 'bin', 'notsotuf.js');
const dir = await mkdtemp(join(tmpdir(), 'notsotuf-bench-exe-'));
try {
  const config = await initRepository(join(dir, 'publisher'), { app: 'benchapp' });
  const app = join(dir, 'build');
  await mkdir(join(app, 'lib'), { recursive: true });
  await writeFile(join(app, 'app.sh'), '#!/bin/sh\necho benchapp\n');
  await writeFile(join(app, 'lib', 'data.bin'), Buffer.alloc(1024 * 1024, 7));
  await addRelease(config, '1.0.0', app);
  const server = await serveRepository({ root: config.repository, port: 0, host: '127.0.0.1' });
  try {
    const updateJson = join(dir, 'update.json');
    await writeFile(
      updateJson,
      JSON.stringify({
        appName: 'benchapp',
        installDir: 'installed',
        metadataUrl: `${server.url}/metadata`,
        targetsUrl: `${server.url}/targets`,
        trustedRoot: join(config.repository, 'metadata', '1.root.json'),
      }),
    );
    // Not spawnSync: this process serves the repository meanwhile.
    await measure(exe, ['install', '--config', updateJson]);

    const cases: [string, string[]][] = [
      ['--version', ['--version']],
      ['check (no update)', ['check', '--config', updateJson]],
    ];
    console.log(
      `\nStart to exit and peak RSS, median of ${RUNS} runs after a warm-up, alternating (machine: ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores, load ${spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ').slice(0, 3).join(' ')}):\n`,
    );
    console.log(
      '| command | executable: wall / CPU / peak RSS | node bin/notsotuf.js: wall / CPU / peak RSS | executable / node (wall, RSS) |',
    );
    console.log('| --- | --- | --- | --- |');
    for (const [label, args] of cases) {
      const a: Measured[] = [];
      const b: Measured[] = [];
      await measure(exe, args);
      await measure(process.execPath, [nodeCli, ...args]);
      for (let i = 0; i < RUNS; i++) {
        a.push(await measure(exe, args));
        b.push(await measure(process.execPath, [nodeCli, ...args]));
      }
      const x = summary(a);
      const y = summary(b);
      const cell = (r: Row): string =>
        `${r.seconds.toFixed(2)} s / ${r.cpuSeconds.toFixed(2)} s / ${r.peakMb.toFixed(0)} MB`;
      console.log(
        `| ${label} | ${cell(x)} | ${cell(y)} | ${(x.seconds / y.seconds).toFixed(2)}x, ${(x.peakMb / y.peakMb).toFixed(2)}x |`,
      );
    }
  } finally {
    await server.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
