/**
 * `npm run build:exe [-- --platform linux-x64,win-x64]`: writes the single-file client executables
 * to dist/exe/ (see docs/executables.md).
 */
import { parseArgs } from 'node:util';
import { relative } from 'node:path';
import { buildExecutables } from './exe/build.js';
import type { ExePlatform } from './exe/node-binary.js';
import { EXE_PLATFORMS } from './exe/node-binary.js';

const { values } = parseArgs({ options: { platform: { type: 'string' } } });
const platforms = (values.platform?.split(',') ?? EXE_PLATFORMS) as ExePlatform[];
const unknown = platforms.filter((p) => !EXE_PLATFORMS.includes(p));
if (unknown.length > 0) {
  console.error(`build:exe: unknown platform ${unknown.join(', ')}; known: ${EXE_PLATFORMS.join(', ')}`);
  process.exit(2);
}
const started = Date.now();
for (const exe of await buildExecutables(platforms)) {
  console.log(`${relative(process.cwd(), exe.path)}  sha256 ${exe.sha256}`);
}
console.log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
if (platforms.includes('darwin-x64')) {
  console.log('darwin-x64 is untested: re-sign it on macOS with "codesign --sign - notsotuf-darwin-x64"');
}
