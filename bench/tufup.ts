// `npm run bench:tufup`: notsotuf side by side with tufup 0.10.0 (the Python updater users migrate
// from, .venv/tufup) on the release pairs of bench:diff (scripts/fetch-bench-data.mjs), in one run:
// - publishing the second release: tufup's add_bundle + publish_changes (archive and bsdiff4 patch,
//   signed) vs our `release add` (archive and patch, signed): wall time, peak memory, patch bytes;
// - the client updating by patch from the same starting folder (the first release installed, each
//   client's own cache of it at hand: tufup's archive, our tar), served over loopback HTTP: wall
//   time and peak memory of the whole client process (refresh, download, patch, verify, install).
// Each side runs as its own process under /usr/bin/time -v; ours is our CLI bundled to plain
// JavaScript (no TypeScript loader); the client update runs the client-only entry of the
// single-file executables (src/cli/client-bin.ts), as an app ships it. Prints a markdown table (docs/benchmarks.md) with ratios
// tufup / ours and saves it in .cache/bench/tufup-results.md.
// Options: --pairs=label,label (default: all; the big Node.js pair runs last).
// Targets (issue 12): release add >= 4x faster with >= 4x less memory; update by patch >= 5x
// faster, under 128 MB peak on our side.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveRepository } from '../src/repo/index.js';
import { measure, type Measured } from './lib/measure.js';
import { CACHE, PAIRS } from '../scripts/fetch-bench-data.mjs';
import { bundleForNode } from './lib/bundle.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PYTHON = join(ROOT, '.venv', 'tufup', 'bin', 'python');
const PUBLISH_PY = join(ROOT, 'test', 'interop', 'tufup', 'publish.py');
const UPDATE_PY = join(ROOT, 'bench', 'tufup-update.py');
const CLI_JS = join(ROOT, CACHE, 'tufup-bench', 'notsotuf.mjs');
/** The client-only entry of the single-file executables: what an app ships to update itself. */
const CLIENT_JS = join(ROOT, CACHE, 'tufup-bench', 'notsotuf-client.mjs');
const APP = 'demo';

if (!existsSync(PYTHON)) {
  console.error('no .venv/tufup: run `npm run venvs` first (scripts/python-venvs.sh)');
  process.exit(1);
}

const only = process.argv
  .find((a) => a.startsWith('--pairs='))
  ?.slice('--pairs='.length)
  .split(',');
const pairs = PAIRS.filter((p) => only === undefined || only.includes(p.label)).sort(
  (a, b) => Number(a.label.startsWith('node-')) - Number(b.label.startsWith('node-')),
);
execFileSync(process.execPath, [join(ROOT, 'scripts', 'fetch-bench-data.mjs')], {
  stdio: 'inherit',
  cwd: ROOT,
});

for (const [entry, outfile] of [
  ['bin.ts', CLI_JS],
  ['client-bin.ts', CLIENT_JS],
] as const) {
  await bundleForNode(join(ROOT, 'src', 'cli', entry), outfile);
}

/** Runs a command (not measured), throwing with its output when it fails. */
function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
}

const q = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;

/**
 * Like measure(), in a working folder and with stdout to `out`. Exit code 11 (our "updated") counts
 * as success. The shell waits for the command, and GNU time's peak RSS covers it (wait4 reports the
 * largest of the shell and its reaped children).
 */
function measureIn(cwd: string, command: string, args: string[], out = '/dev/null'): Promise<Measured> {
  const line = [command, ...args].map(q).join(' ');
  return measure('sh', ['-c', `cd ${q(cwd)} && ${line} > ${q(out)}; c=$?; [ $c -eq 11 ] && exit 0; exit $c`]);
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8').trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

interface Row {
  label: string;
  tarMb: number;
  tufupAdd: Measured;
  oursAdd: Measured;
  tufupPatch: number;
  oursPatch: number;
  tufupUpdate: Measured;
  oursUpdate: Measured;
  tufupVia: string;
  oursVia: string;
}

function folderBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += folderBytes(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

async function benchPair(label: string, oldDir: string, newDir: string): Promise<Row> {
  const work = mkdtempSync(join(tmpdir(), `notsotuf-bench-tufup-${label}-`));
  try {
    // --- tufup publisher: init, first release (not measured), second release (measured).
    const tufupHome = join(work, 'tufup');
    mkdirSync(tufupHome);
    const tufupRepo = join(tufupHome, 'repository');
    const pub = ['--repo', tufupRepo, '--keys', join(tufupHome, 'keystore'), '--app', APP];
    run(PYTHON, [PUBLISH_PY, ...pub, 'init'], tufupHome);
    run(PYTHON, [PUBLISH_PY, ...pub, 'add', '1.0.0', oldDir], tufupHome);
    console.log(`  ${label}: tufup add 2.0.0 ...`);
    const tufupAdd = await measureIn(tufupHome, PYTHON, [PUBLISH_PY, ...pub, 'add', '2.0.0', newDir]);
    const tufupPatch = statSync(join(tufupRepo, 'targets', `${APP}-2.0.0.patch`)).size;

    // --- our publisher: the same.
    const ours = join(work, 'ours');
    mkdirSync(ours);
    run(process.execPath, [CLI_JS, 'init', '--yes', '--app', APP], ours);
    run(process.execPath, [CLI_JS, 'release', 'add', '1.0.0', oldDir], ours);
    console.log(`  ${label}: notsotuf release add 2.0.0 ...`);
    const oursAdd = await measureIn(ours, process.execPath, [CLI_JS, 'release', 'add', '2.0.0', newDir]);
    const ourRepo = join(ours, 'repository');
    const patchFile = readdirSync(join(ourRepo, 'targets')).find((f) => f.endsWith(`.${APP}-2.0.0.patch`));
    if (patchFile === undefined) throw new Error('release add made no patch');
    const oursPatch = statSync(join(ourRepo, 'targets', patchFile)).size;

    // --- clients: 1.0.0 installed, each with its cache of 1.0.0, update by patch over HTTP.
    const tufupServer = await serveRepository({ root: tufupRepo });
    const ourServer = await serveRepository({ root: ourRepo });
    try {
      const tApp = join(work, 'apps', 'tufup-app');
      const tState = join(work, 'apps', 'tufup-state');
      cpSync(oldDir, tApp, { recursive: true, verbatimSymlinks: true });
      mkdirSync(join(tState, 'metadata'), { recursive: true });
      mkdirSync(join(tState, 'targets'), { recursive: true });
      copyFileSync(join(tufupRepo, 'metadata', 'root.json'), join(tState, 'metadata', 'root.json'));
      copyFileSync(
        join(tufupRepo, 'targets', `${APP}-1.0.0.tar.gz`),
        join(tState, 'targets', `${APP}-1.0.0.tar.gz`),
      );
      console.log(`  ${label}: tufup client update ...`);
      const tufupOut = join(work, 'tufup-update.json');
      const tufupUpdate = await measureIn(
        work,
        PYTHON,
        [
          UPDATE_PY,
          ...['--app', APP, '--install-dir', tApp, '--version', '1.0.0', '--state', tState],
          ...[
            '--metadata-url',
            `${tufupServer.url}/metadata/`,
            '--targets-url',
            `${tufupServer.url}/targets/`,
          ],
        ],
        tufupOut,
      );
      const tufupVia = JSON.stringify(readJson(tufupOut).kind);

      const oApp = join(work, 'apps', 'ours-app');
      const oState = join(work, 'apps', 'ours-app.notsotuf-state');
      cpSync(oldDir, oApp, { recursive: true, verbatimSymlinks: true });
      mkdirSync(join(oState, 'tars'), { recursive: true });
      copyFileSync(
        join(ours, '.notsotuf-cache', 'tars', `${APP}-1.0.0.tar`),
        join(oState, 'tars', '1.0.0.tar'),
      );
      console.log(`  ${label}: notsotuf client update ...`);
      const args = [CLIENT_JS, 'update', '--yes', '--json', '--app-name', APP, '--install-dir', oApp];
      args.push('--current-version', '1.0.0', '--state-dir', oState);
      args.push('--metadata-url', `${ourServer.url}/metadata`, '--targets-url', `${ourServer.url}/targets`);
      args.push('--trusted-root', join(ourRepo, 'metadata', '1.root.json'));
      const oursOut = join(work, 'ours-update.json');
      const oursUpdate = await measureIn(work, process.execPath, args, oursOut);
      const oursResult = readJson(oursOut);
      const oursVia = JSON.stringify(oursResult.via ?? oursResult.kind ?? oursResult);
      // Both ended with the new release installed (compared by content).
      const same = (a: string, b: string) => folderBytes(a) === folderBytes(b);
      if (!same(tApp, newDir) || !same(oApp, newDir))
        throw new Error(`${label}: an update did not install 2.0.0`);
      return {
        label,
        tarMb: folderBytes(newDir) / 1e6,
        tufupAdd,
        oursAdd,
        tufupPatch,
        oursPatch,
        tufupUpdate,
        oursUpdate,
        tufupVia,
        oursVia,
      };
    } finally {
      await tufupServer.close();
      await ourServer.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
for (const p of pairs) {
  const [a, b] = p.versions;
  const oldDir = join(ROOT, CACHE, 'src', `${p.label}-${a}`);
  const newDir = join(ROOT, CACHE, 'src', `${p.label}-${b}`);
  console.log(`${p.label} ${a} -> ${b}`);
  rows.push(await benchPair(`${p.label} ${a} → ${b}`, oldDir, newDir));
}

const s = (m: Measured) => m.seconds.toFixed(2);
const mb = (m: Measured) => m.peakMb.toFixed(0);
const x = (a: number, b: number) => `${(a / b).toFixed(1)}x`;
const kb = (n: number) => (n / 1024).toFixed(0);
const lines = [
  `| release pair (new size) | add: tufup s / ours s (ratio) | add peak MB: tufup / ours (ratio) | patch KiB: tufup / ours | update: tufup s / ours s (ratio) | update peak MB: tufup / ours (ratio) |`,
  `| --- | --- | --- | --- | --- | --- |`,
  ...rows.map(
    (r) =>
      `| ${r.label} (${r.tarMb.toFixed(0)} MB) | ${s(r.tufupAdd)} / ${s(r.oursAdd)} (${x(r.tufupAdd.seconds, r.oursAdd.seconds)}) | ` +
      `${mb(r.tufupAdd)} / ${mb(r.oursAdd)} (${x(r.tufupAdd.peakMb, r.oursAdd.peakMb)}) | ${kb(r.tufupPatch)} / ${kb(r.oursPatch)} | ` +
      `${s(r.tufupUpdate)} / ${s(r.oursUpdate)} (${x(r.tufupUpdate.seconds, r.oursUpdate.seconds)}) | ` +
      `${mb(r.tufupUpdate)} / ${mb(r.oursUpdate)} (${x(r.tufupUpdate.peakMb, r.oursUpdate.peakMb)}) |`,
  ),
];
const cpu = rows.map(
  (r) =>
    `- ${r.label}: CPU s, add tufup ${r.tufupAdd.cpuSeconds.toFixed(2)} / ours ${r.oursAdd.cpuSeconds.toFixed(2)}; ` +
    `update tufup ${r.tufupUpdate.cpuSeconds.toFixed(2)} / ours ${r.oursUpdate.cpuSeconds.toFixed(2)}`,
);
const via = rows.map((r) => `- ${r.label}: tufup updated by ${r.tufupVia}, notsotuf by ${r.oursVia}`);
const table = [...lines, '', ...cpu, ...via].join('\n');
console.log(`\n${table}\n`);
mkdirSync(join(ROOT, CACHE), { recursive: true });
writeFileSync(join(ROOT, CACHE, 'tufup-results.md'), `${table}\n`);
