// `npm run bench:diff`: our patch engine side by side with bsdiff, zstd --patch-from and xdelta3 on
// pairs of consecutive real releases (fetched by scripts/fetch-bench-data.mjs into .cache/bench).
// Prints a markdown table (paste it into docs/benchmarks.md) and saves it in .cache/bench/.
// Options: --pairs=label,label   only these pairs;  --tools=ours,bsdiff,...  only these tools;
//   --reuse=.cache/bench/results-X.json  take the other tools' rows from an earlier run on the same
//   tars instead of running them again (bsdiff needs minutes and GBs; the table marks reused rows).
// Runs bsdiff on ~190 MB inputs (minutes, ~1.7 GB): the machine is shared, do not loop it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { packTar } from '../src/archive/index.js';
import { measure, type Measured } from './lib/measure.js';
import { CACHE, PAIRS } from '../scripts/fetch-bench-data.mjs';
import { bundleForNode } from './lib/bundle.js';

interface Tool {
  name: string;
  available: () => boolean;
  diff: (old: string, nu: string, patch: string) => [string, string[]];
  patch: (old: string, patch: string, out: string) => [string, string[]];
}

const ENTRY = join(CACHE, 'diff-entry.mjs');

function has(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const TOOLS: Tool[] = [
  {
    name: 'ours',
    available: () => true,
    diff: (o, n, p) => [process.execPath, [ENTRY, 'diff', o, n, p]],
    patch: (o, p, out) => [process.execPath, [ENTRY, 'patch', o, p, out]],
  },
  {
    name: 'bsdiff',
    available: () => has('bsdiff'),
    diff: (o, n, p) => ['bsdiff', [o, n, p]],
    patch: (o, p, out) => ['bspatch', [o, out, p]],
  },
  {
    name: 'zstd -19 --long=31',
    available: () => has('zstd'),
    diff: (o, n, p) => ['zstd', ['-q', '-f', '-19', '--long=31', `--patch-from=${o}`, n, '-o', p]],
    patch: (o, p, out) => ['zstd', ['-q', '-f', '-d', '--long=31', `--patch-from=${o}`, p, '-o', out]],
  },
  {
    name: 'xdelta3 -9',
    available: () => has('xdelta3'),
    diff: (o, n, p) => ['xdelta3', ['-f', '-9', '-e', '-s', o, n, p]],
    patch: (o, p, out) => ['xdelta3', ['-f', '-d', '-s', o, p, out]],
  },
];

function installTools(): void {
  if (TOOLS.every((t) => t.available())) return;
  if (process.getuid?.() !== 0) {
    console.error(
      'bsdiff/zstd/xdelta3 missing and not root: install the Debian packages bsdiff zstd xdelta3',
    );
    return;
  }
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'bsdiff', 'zstd', 'xdelta3'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

const mb = (bytes: number): string =>
  bytes < 1e5 ? `${(bytes / 1e3).toFixed(2)} KB` : `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;

/** CPU seconds; runs saved before the bench measured CPU time have none. */
const cpu = (m: Measured, digits: number): string =>
  typeof m.cpuSeconds === 'number' && !Number.isNaN(m.cpuSeconds) ? m.cpuSeconds.toFixed(digits) : '?';

/** Our apply timed inside its process (without Node's start-up); empty for the other tools. */
const inProcess = (m: Measured): string =>
  m.inProcess === undefined
    ? ''
    : `${m.inProcess.seconds.toFixed(2)} s (${m.inProcess.cpuSeconds.toFixed(2)})`;

interface Row {
  pair: string;
  tool: string;
  size: number;
  create: Measured;
  apply: Measured;
  reusedFrom?: string;
}

async function main(): Promise<void> {
  const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
  const onlyPairs = args.get('pairs')?.split(',');
  const onlyTools = args.get('tools')?.split(',');
  const reusePath = args.get('reuse');
  const reused: Row[] = reusePath === undefined ? [] : (JSON.parse(readFileSync(reusePath, 'utf8')) as Row[]);
  execFileSync(process.execPath, ['scripts/fetch-bench-data.mjs'], { stdio: 'inherit' });
  installTools();
  mkdirSync(CACHE, { recursive: true });
  await bundleForNode('bench/lib/diff-entry.ts', ENTRY);
  const work = join(CACHE, `work-${process.pid}`); // per run: two runs may share the cache
  mkdirSync(join(CACHE, 'tar'), { recursive: true });
  const rows: string[] = [];
  const results: unknown[] = [];
  for (const pair of PAIRS) {
    if (onlyPairs !== undefined && !onlyPairs.includes(pair.label)) continue;
    const tars: string[] = [];
    for (const v of pair.versions) {
      const tar = join(CACHE, 'tar', `${pair.label}-${v}.tar`);
      if (!existsSync(tar)) await packTar(join(CACHE, 'src', `${pair.label}-${v}`), tar);
      tars.push(tar);
    }
    const [oldTar, newTar] = tars as [string, string];
    const want = await sha256(newTar);
    const byTool = new Map<
      string,
      { size: number; create: Measured; apply: Measured; reusedFrom?: string }
    >();
    for (const tool of TOOLS) {
      const earlier = reused.find((r) => r.pair === pair.label && r.tool === tool.name);
      if (tool.name !== 'ours' && earlier !== undefined) {
        byTool.set(tool.name, { ...earlier, reusedFrom: basename(reusePath ?? '') });
        continue;
      }
      if (onlyTools !== undefined && !onlyTools.some((t) => tool.name.startsWith(t))) continue;
      if (!tool.available()) continue;
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { recursive: true });
      const patch = join(work, 'patch');
      const out = join(work, 'out.tar');
      const create = await measure(...tool.diff(oldTar, newTar, patch));
      const size = statSync(patch).size;
      const apply = await measure(...tool.patch(oldTar, patch, out));
      const ok = (await sha256(out)) === want;
      if (!ok) throw new Error(`${tool.name} did not rebuild ${newTar}`);
      byTool.set(tool.name, { size, create, apply });
      const own =
        apply.inProcess === undefined
          ? ''
          : ` (in process: ${apply.inProcess.seconds.toFixed(2)} s, cpu ${apply.inProcess.cpuSeconds.toFixed(2)})`;
      console.error(
        `${pair.label} ${tool.name}: ${size} B, create ${create.seconds.toFixed(1)} s (cpu ${create.cpuSeconds.toFixed(1)}) ${create.peakMb.toFixed(0)} MB, apply ${apply.seconds.toFixed(1)} s (cpu ${apply.cpuSeconds.toFixed(2)}) ${apply.peakMb.toFixed(0)} MB${own}`,
      );
    }
    rmSync(work, { recursive: true, force: true });
    const bs = byTool.get('bsdiff');
    const oldSize = statSync(oldTar).size;
    const newSize = statSync(newTar).size;
    for (const [name, r] of byTool) {
      const ratio = (x: number, y: number | undefined): string => (y === undefined ? '' : (x / y).toFixed(2));
      rows.push(
        `| ${pair.pkg} ${pair.versions.join(' → ')} (${mb(oldSize)} → ${mb(newSize)}) | ${name}${r.reusedFrom === undefined ? '' : ' (reused)'} | ${mb(r.size)} | ${r.create.seconds.toFixed(1)} s (${cpu(r.create, 1)}) | ${r.create.peakMb.toFixed(0)} MB | ${r.apply.seconds.toFixed(2)} s (${cpu(r.apply, 2)}) | ${inProcess(r.apply)} | ${r.apply.peakMb.toFixed(0)} MB | ${ratio(r.size, bs?.size)} | ${ratio(r.create.seconds, bs?.create.seconds)} | ${ratio(r.create.peakMb, bs?.create.peakMb)} | ${ratio(r.apply.seconds, bs?.apply.seconds)} |`,
      );
      results.push({ pair: pair.label, versions: pair.versions, oldSize, newSize, tool: name, ...r });
    }
  }
  const table = [
    '| pair (uncompressed tars) | tool | patch | create wall (cpu) | create peak | apply wall (cpu), process | apply in process: wall (cpu) | apply peak | size / bsdiff | create time / bsdiff | create mem / bsdiff | apply time / bspatch |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  console.log(table);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(CACHE, `results-${stamp}.json`), JSON.stringify(results, null, 2));
  writeFileSync(join(CACHE, `results-${stamp}.md`), `${table}\n`);
}

await main();
