/**
 * The publisher as a real process, for the SIGKILL tests: runs `release add` or `refresh` through
 * the library and kills itself with SIGKILL just before the final rename number `killAtStep` of its
 * repository write (the commitWrites test seam), after noting the path it was about to rename; or,
 * with `killAtStep: -1`, as soon as its work folder appears (while it packs). Run:
 * node --import tsx publisher-child.ts SETTINGS.json
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { RepoConfig } from '../../src/repo/config.js';
import { refreshRepository } from '../../src/repo/refresh.js';
import { addRelease, DIFF_PATCH_MAKER } from '../../src/repo/release.js';

export interface PublisherChildSettings {
  readonly config: RepoConfig;
  readonly op:
    | { kind: 'add'; version: string; folder: string }
    | { kind: 'refresh'; force: ('targets' | 'snapshot' | 'timestamp')[] };
  readonly killAtStep: number;
  readonly marker: string;
}

const s = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as PublisherChildSettings;

function die(seen: string): void {
  writeFileSync(s.marker, seen);
  process.kill(process.pid, 'SIGKILL');
}

let step = 0;
const onStep = (rel: string): void => {
  if (step++ === s.killAtStep) die(`before ${rel}`);
};

if (s.killAtStep === -1) {
  const tick = (): void => {
    let names: string[] = [];
    try {
      names = readdirSync(s.config.cache);
    } catch {
      // not made yet
    }
    if (names.some((n) => n.startsWith('work-'))) die('packing');
    else setImmediate(tick);
  };
  setImmediate(tick);
}

if (s.op.kind === 'add') {
  await addRelease(s.config, s.op.version, s.op.folder, { patchMaker: DIFF_PATCH_MAKER, onStep });
} else {
  await refreshRepository(s.config, { force: s.op.force, onStep });
}
writeFileSync(s.marker, `finished after ${step} steps`);
process.exit(0);
