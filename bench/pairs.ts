// `npm run bench:pairs`: our patch engine on many release pairs that nobody tuned it for (npm
// packages with native binaries of every kind, PyPI wheels, Maven jars, Go modules), as an outside
// checker would run it. For each pair: fetch both versions with the registry's own client, pack each
// folder as a tar with packTar (as the publisher does), diff, apply, compare the rebuilt tar's
// sha256, and run bsdiff beside it. A wrong round trip, a crash or a time-out is reported, not
// thrown, so one bad pair does not hide the rest.
// Options: --list=bench/pairs.txt  --pairs=label,label  --tools=ours|bsdiff (default both).
// bsdiff's result of a pair is cached in .cache/pairs/bsdiff (it takes minutes on 100 MB).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packTar } from '../src/archive/index.js';
import { bundleForNode } from './lib/bundle.js';
import { measure, type Measured } from './lib/measure.js';

const CACHE = '.cache/pairs';
const ENTRY = join(CACHE, 'diff-entry.mjs');

interface Pair {
  label: string;
  kind: string;
  pkg: string;
  versions: [string, string];
  platform?: string;
}

interface Run {
  size: number;
  ok: boolean;
  create?: Measured;
  apply?: Measured;
  error?: string;
}

function readPairs(list: string): Pair[] {
  return readFileSync(list, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [label, kind, pkg, a, b, platform] = l.split(/\s+/) as [
        string,
        string,
        string,
        string,
        string,
        string?,
      ];
      return { label, kind, pkg, versions: [a, b], ...(platform === undefined ? {} : { platform }) };
    });
}

const run = (cmd: string, args: string[], cwd?: string): void => {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], ...(cwd === undefined ? {} : { cwd }) });
};

/** Downloads one version into .cache/pairs/src/<label>-<version>/ (unpacked wheel, jar in lib/). */
function fetchOne(p: Pair, version: string): string {
  const dest = join(CACHE, 'src', `${p.label}-${version}`);
  if (existsSync(dest)) return dest;
  const dl = join(CACHE, 'dl');
  const tmp = `${dest}.partial`;
  for (const d of [dl, tmp]) rmSync(d, { recursive: true, force: true });
  mkdirSync(dl, { recursive: true });
  mkdirSync(tmp, { recursive: true });
  const only = (): string => join(dl, readdirSync(dl)[0] as string);
  if (p.kind === 'npm') {
    run('npm', ['pack', `${p.pkg}@${version}`, '--silent'], dl);
    run('tar', ['-xzf', only(), '-C', tmp, '--strip-components=1']);
  } else if (p.kind === 'pypi') {
    const where = ['--platform', p.platform ?? 'manylinux_2_28_x86_64', '--python-version', '3.12'];
    run('pip', [
      'download',
      '-q',
      '--no-deps',
      '--only-binary=:all:',
      ...where,
      '-d',
      dl,
      `${p.pkg}==${version}`,
    ]);
    run('unzip', ['-q', only(), '-d', tmp]);
  } else if (p.kind === 'maven') {
    run('mvn', ['-q', '-B', 'dependency:copy', `-Dartifact=${p.pkg}:${version}`, `-DoutputDirectory=${dl}`]);
    mkdirSync(join(tmp, 'lib'));
    renameSync(only(), join(tmp, 'lib', readdirSync(dl)[0] as string));
  } else if (p.kind === 'go') {
    const out = execFileSync('go', ['mod', 'download', '-json', `${p.pkg}@${version}`], { cwd: '/tmp' });
    run('cp', ['-r', `${(JSON.parse(out.toString()) as { Dir: string }).Dir}/.`, tmp]);
    run('chmod', ['-R', 'u+w', tmp]);
  } else throw new Error(`${p.label}: unknown kind ${p.kind} (npm, pypi, maven or go)`);
  rmSync(dl, { recursive: true, force: true });
  renameSync(tmp, dest);
  return dest;
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Diff and apply with one tool under `timeout`; a failure is recorded, not thrown. */
async function tryTool(diff: string[], patch: string[], out: string, want: string, p: string): Promise<Run> {
  const timed = (cmd: string[]): Promise<Measured> => measure('timeout', ['1800', ...cmd]);
  let create: Measured | undefined;
  try {
    create = await timed(diff);
    const apply = await timed(patch);
    return { size: statSync(p).size, ok: (await sha256(out)) === want, create, apply };
  } catch (error) {
    const size = existsSync(p) ? statSync(p).size : -1;
    return {
      size,
      ok: false,
      ...(create === undefined ? {} : { create }),
      error: String(error).slice(0, 2000),
    };
  }
}

const mb = (b: number): string =>
  b < 1e5 ? `${(b / 1e3).toFixed(2)} KB` : `${(b / 1e6).toFixed(b < 1e7 ? 2 : 1)} MB`;
const cpu = (m: Measured | undefined): string => (m === undefined ? '-' : `${m.cpuSeconds.toFixed(2)} s`);
const peak = (m: Measured | undefined): string => (m === undefined ? '-' : `${m.peakMb.toFixed(0)} MB`);

async function main(): Promise<void> {
  const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
  const only = args.get('pairs')?.split(',');
  const tools = args.get('tools');
  const pairs = readPairs(args.get('list') ?? 'bench/pairs.txt').filter(
    (p) => only?.includes(p.label) ?? true,
  );
  for (const d of ['tar', 'bsdiff', 'work']) mkdirSync(join(CACHE, d), { recursive: true });
  await bundleForNode('bench/lib/diff-entry.ts', ENTRY);
  const rows: string[] = [];
  const results: unknown[] = [];
  let bad = 0;
  for (const p of pairs) {
    const tars: string[] = [];
    for (const v of p.versions) {
      const tar = join(CACHE, 'tar', `${p.label}-${v}.tar`);
      if (!existsSync(tar)) await packTar(fetchOne(p, v), tar);
      tars.push(tar);
    }
    const [oldTar, newTar] = tars as [string, string];
    const want = await sha256(newTar);
    const w = (f: string): string => join(CACHE, 'work', f);
    rmSync(w('out'), { force: true });
    const ours =
      tools === 'bsdiff'
        ? undefined
        : await tryTool(
            [process.execPath, ENTRY, 'diff', oldTar, newTar, w('p')],
            [process.execPath, ENTRY, 'patch', oldTar, w('p'), w('out')],
            w('out'),
            want,
            w('p'),
          );
    const cached = join(CACHE, 'bsdiff', `${p.label}-${p.versions.join('-')}.json`);
    let bs: Run | undefined;
    if (existsSync(cached)) bs = JSON.parse(readFileSync(cached, 'utf8')) as Run;
    else if (tools !== 'ours') {
      bs = await tryTool(
        ['bsdiff', oldTar, newTar, w('bp')],
        ['bspatch', oldTar, w('bout'), w('bp')],
        w('bout'),
        want,
        w('bp'),
      );
      if (bs.ok) writeFileSync(cached, JSON.stringify(bs));
    }
    if (ours !== undefined && !ours.ok) bad++;
    const verdict = ours === undefined ? '' : ours.ok ? 'ok' : `**FAILED** ${ours.error ?? 'wrong sha256'}`;
    const ratio = ours !== undefined && bs?.ok === true ? (ours.size / bs.size).toFixed(2) : '';
    const sizes = `${mb(statSync(oldTar).size)} → ${mb(statSync(newTar).size)}`;
    rows.push(
      `| ${p.label} ${p.versions.join(' → ')} | ${sizes} | ${ours === undefined ? '' : mb(ours.size)} | ${bs === undefined ? '' : mb(bs.size)} | ${ratio} | ${cpu(ours?.create)} / ${cpu(bs?.create)} | ${peak(ours?.create)} / ${peak(bs?.create)} | ${cpu(ours?.apply)} / ${cpu(bs?.apply)} | ${peak(ours?.apply)} / ${peak(bs?.apply)} | ${verdict} |`,
    );
    console.error(rows.at(-1));
    results.push({ ...p, ours, bsdiff: bs, load: readFileSync('/proc/loadavg', 'utf8').split(' ')[0] });
  }
  const table = [
    '| pair | tars | ours | bsdiff | ours / bsdiff | create CPU ours / bsdiff | create peak | apply CPU ours / bspatch | apply peak | round trip |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  console.log(table);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(CACHE, `results-${stamp}.json`), JSON.stringify(results, null, 2));
  if (bad > 0) {
    console.error(`${bad} pair(s) failed to round-trip`);
    process.exitCode = 1;
  }
}

await main();
