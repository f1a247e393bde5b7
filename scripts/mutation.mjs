#!/usr/bin/env node
// Mutation testing (StrykerJS) of the security-critical files, one file at a time, each with only
// the tests that cover it, so a run fits a 2-core machine. Scores go to docs/security.md.
//
// Usage: npm run test:mutation [-- [--concurrency N] [--lines A-B,C-D] [--tests a,b] [substring ...]]
// --lines and --tests narrow a re-run (one file) to the lines of the last run's survivors and the
// tests written for them: a full run of apply-patch.ts takes close to an hour on a loaded machine.
// Stryker copies the project into .stryker-tmp/ when it starts: do not rebase or switch branches
// in the same folder while it runs (run it from a clean copy when you keep working).
//   substring: only the files whose path contains one of them (e.g. `plan`, `src/client/`).
// Reports: reports/mutation/<file>.html and .json; incremental results under reports/mutation/
// (a re-run only tests the mutants whose code or tests changed).
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Each mutated file and the test files that cover it (globs relative to the repository). */
export const TARGETS = [
  {
    file: 'src/archive/unpack.ts',
    tests: [
      'test/archive/unpack.test.ts',
      'test/archive/unpack-edges.test.ts',
      'test/security/hostile-archive-*.test.ts',
      'test/archive/windows-path-rules.test.ts',
      'test/security/staging-planted-symlink.test.ts',
    ],
  },
  {
    file: 'src/archive/path-rules.ts',
    tests: [
      'test/archive/path-rules.test.ts',
      'test/archive/unpack.test.ts',
      'test/archive/unpack-edges.test.ts',
      'test/security/hostile-archive-*.test.ts',
      'test/archive/windows-path-rules.test.ts',
    ],
  },
  { file: 'src/core/plan.ts', tests: ['test/core/plan.test.ts'] },
  {
    file: 'src/core/custom-metadata.ts',
    tests: ['test/core/plan.test.ts', 'test/security/malformed-custom-metadata.test.ts'],
  },
  {
    file: 'src/diff/apply-patch.ts',
    tests: [
      'test/diff/apply-patch.test.ts',
      'test/diff/apply-edges.test.ts',
      'test/diff/apply-file-faults.test.ts',
      'test/diff/ref-predict.test.ts',
      'test/diff/corruption.test.ts',
      'test/diff/round-trip.test.ts',
      'test/diff/exe-transform.test.ts',
      'test/security/hostile-patch-*.test.ts',
    ],
  },
  {
    file: 'src/diff/old-reader.ts',
    tests: [
      'test/diff/apply-patch.test.ts',
      'test/diff/apply-edges.test.ts',
      'test/diff/old-reader-cache.test.ts',
      'test/diff/ref-predict.test.ts',
      'test/diff/corruption.test.ts',
      'test/diff/round-trip.test.ts',
      'test/diff/exe-transform.test.ts',
      'test/security/hostile-patch-*.test.ts',
    ],
  },
  {
    file: 'src/client/download.ts',
    tests: [
      'test/client/resume.test.ts',
      'test/client/tampered-target.test.ts',
      'test/security/endless-data-attack.test.ts',
      'test/client/download-refusals.test.ts',
      'test/client/download.test.ts',
    ],
  },
  {
    file: 'src/client/fetcher.ts',
    tests: [
      'test/tuf/fetcher.test.ts',
      'test/tuf/fetcher-edges.test.ts',
      'test/security/endless-data-attack.test.ts',
      'test/security/slow-retrieval-attack.test.ts',
    ],
  },
  {
    file: 'src/repo/inspect-metadata.ts',
    tests: [
      'test/repo/root-chain.test.ts',
      'test/repo/metadata-format.test.ts',
      'test/repo/inspect-metadata.test.ts',
      'test/repo/inspect-metadata-problems.test.ts',
    ],
  },
];

const args = process.argv.slice(2);
let concurrency = 2;
const filters = [];
/** Re-runs: only these line ranges of the file (`--lines 60-120,200-250`), only these tests. */
let lines;
let tests;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--concurrency') concurrency = Number(args[++i]);
  else if (args[i] === '--lines') lines = args[++i].split(',');
  else if (args[i] === '--tests') tests = args[++i].split(',');
  else filters.push(args[i]);
}
const chosen = TARGETS.filter((t) => filters.length === 0 || filters.some((f) => t.file.includes(f)));
if (chosen.length === 0) {
  console.error(
    `no mutated file matches ${filters.join(' ')}; known: ${TARGETS.map((t) => t.file).join(', ')}`,
  );
  process.exit(2);
}

const out = 'reports/mutation';
mkdirSync(out, { recursive: true });
const summary = [];
let failed = false;
for (const t of chosen) {
  const name = t.file
    .replace(/^src\//, '')
    .replace(/\.ts$/, '')
    .replaceAll('/', '-');
  const tsconfigFile = `.tsconfig.mutation-${name}.json`;
  writeFileSync(
    tsconfigFile,
    `${JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true }, include: [], files: [t.file] }, null, 2)}\n`,
  );
  const config = {
    $schema: './node_modules/@stryker-mutator/core/schema/stryker-schema.json',
    packageManager: 'npm',
    testRunner: 'tap',
    tap: { testFiles: tests ?? t.tests, nodeArgs: ['--import', 'tsx'] },
    checkers: ['typescript'],
    // Only the mutated file and what it imports: checking the whole project for every mutant would
    // take most of the run (and an unrelated type error elsewhere would stop it).
    tsconfigFile: tsconfigFile,
    typescriptChecker: { prioritizePerformanceOverAccuracy: true },
    coverageAnalysis: 'perTest',
    mutate: lines === undefined ? [t.file] : lines.map((r) => `${t.file}:${r}`),
    concurrency,
    timeoutMS: 60_000,
    // The first run of all covering test files (with coverage) took over Stryker's default 5
    // minutes for apply-patch.ts on the loaded machine.
    dryRunTimeoutMinutes: 30,
    timeoutFactor: 3,
    incremental: true,
    incrementalFile: join(out, `${name}.incremental.json`),
    reporters: ['clear-text', 'progress', 'html', 'json'],
    htmlReporter: { fileName: join(out, `${name}.html`) },
    jsonReporter: { fileName: join(out, `${name}.json`) },
    clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
    ignorePatterns: ['reports', 'dist', '.cache', '.venv', 'python', 'bench'],
    thresholds: { high: 90, low: 90, break: null },
  };
  const configFile = join(out, `${name}.stryker.json`);
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const started = Date.now();
  console.log(`\n=== ${config.mutate.join(' ')} (tests: ${config.tap.testFiles.join(' ')})`);
  const r = spawnSync(
    process.execPath,
    ['node_modules/@stryker-mutator/core/bin/stryker.js', 'run', configFile],
    {
      stdio: 'inherit',
    },
  );
  rmSync(configFile, { force: true });
  rmSync(tsconfigFile, { force: true });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  if (r.status !== 0) failed = true;
  summary.push(`${t.file}: stryker exit ${r.status}, ${minutes} min (report ${join(out, `${name}.html`)})`);
}
console.log(`\n${summary.join('\n')}`);
process.exit(failed ? 1 : 0);
