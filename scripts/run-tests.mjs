#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's own test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [substring ...]  (only files whose path contains one of them)
//
// At the end it lists every skipped test with its reason. Under CI=true a test skipped for a
// missing tool (test/helpers/skip.ts marks those reasons) fails the run: a CI that lost nginx or
// Wine must not stay green.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

/** Same mark as TOOL_MISSING in test/helpers/skip.ts. */
const TOOL_MISSING = 'tool missing: ';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const ci = !['', '0', 'false', undefined].includes(process.env.CI);
const filters = process.argv.slice(2);
const files = walk('test')
  .map((f) => relative('.', f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), 'notsotuf-run-tests-'));
const resultsFile = join(work, 'results.jsonl');
const r = spawnSync(
  process.execPath,
  [
    '--import',
    import.meta.resolve('tsx'),
    '--test',
    '--test-concurrency=2',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${new URL('./skip-reporter.mjs', import.meta.url).href}`,
    `--test-reporter-destination=${resultsFile}`,
    ...files,
  ],
  { stdio: 'inherit' },
);

let results = [];
try {
  results = readFileSync(resultsFile, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
} catch {
  // The runner died before writing anything: its exit status says so below.
}
rmSync(work, { recursive: true, force: true });

const skipped = results.filter((t) => t.outcome === 'skip');
const toolSkips = skipped.filter((t) => (t.skip ?? '').startsWith(TOOL_MISSING));
if (skipped.length > 0) {
  console.log(`\nskipped tests (${skipped.length}):`);
  for (const t of skipped) {
    const where = t.file ? relative('.', t.file) : '?';
    console.log(`  - ${where}: ${t.name}${t.skip ? ` -- ${t.skip}` : ''}`);
  }
}
let status = r.status ?? 1;
if (ci && toolSkips.length > 0) {
  console.log(
    `\nCI=true: ${toolSkips.length} test(s) skipped for a missing tool; this fails the run (.ci/run must install it).`,
  );
  status = 1;
}
const count = (o) => results.filter((t) => t.outcome === o).length;
console.log(`\n${count('pass') + count('todo')} passed, ${count('fail')} failed, ${skipped.length} skipped`);
process.exit(status);
