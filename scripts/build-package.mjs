#!/usr/bin/env node
// Builds what the package ships (dist/src, from src/ only) from scratch: run by npm as the
// `prepare` script, so `npm ci` in a clone, an install from git and `npm pack` / `npm publish` of a
// fresh clone all have dist/. Stale files of removed sources are deleted first, so a tarball never
// ships a module that no longer exists.
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';

rmSync('dist/src', { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
