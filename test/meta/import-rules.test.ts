// The layering of docs/architecture.md, checked on every import in src/: a change that makes the
// client load signing code, or core touch the disk, fails here with the file and the import.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Which areas of src/ each area may import (errors.ts is open to all). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  core: [],
  io: [],
  diff: ['core', 'io'],
  archive: ['core', 'io'],
  client: ['core', 'io', 'diff', 'archive'],
  repo: ['core', 'io', 'diff', 'archive'],
  cli: ['core', 'io', 'diff', 'archive', 'client', 'repo'],
};

/**
 * Areas that another reaches only through its entry point: the CLI uses the client as an app does,
 * so what it needs is exported from `notsotuf` and the client's internals can move freely.
 */
const ENTRY_ONLY: Record<string, Readonly<Record<string, string>>> = {
  cli: { client: 'client/index.js' },
};

/** Node modules an area must not use: core takes values (no disk, network, processes or clock edges). */
const NO_NODE: Record<string, readonly string[]> = {
  core: ['fs', 'fs/promises', 'http', 'https', 'net', 'child_process', 'os'],
  io: ['http', 'https', 'net', 'child_process'],
  diff: ['http', 'https', 'net', 'child_process'],
  archive: ['http', 'https', 'net', 'child_process'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('each area of src/ imports only the areas below it (client and repo never each other, core no I/O)', () => {
  const broken: string[] = [];
  for (const file of files(SRC)) {
    const rel = relative(SRC, file).replaceAll('\\', '/');
    const area = rel.includes('/') ? rel.split('/')[0]! : undefined;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(
      /(?:^|\n)\s*(?:import|export)[^'";]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g,
    )) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith('.')) {
        const target = relative(SRC, normalize(join(dirname(file), spec))).replaceAll('\\', '/');
        if (target.startsWith('..')) broken.push(`${rel} imports ${spec}, outside src/`);
        const to = target.includes('/') ? target.split('/')[0]! : undefined;
        if (area === undefined || to === undefined || to === area) continue;
        if (!(MAY_IMPORT[area] ?? []).includes(to)) broken.push(`${rel} (${area}) imports ${spec} (${to})`);
        const entry = ENTRY_ONLY[area]?.[to];
        if (entry !== undefined && target !== entry)
          broken.push(`${rel} (${area}) imports ${spec}: use ${to}'s entry point src/${entry}`);
      } else if (spec.startsWith('node:') && area !== undefined) {
        if ((NO_NODE[area] ?? []).includes(spec.slice(5))) broken.push(`${rel} (${area}) uses ${spec}`);
      }
    }
  }
  assert.deepEqual(broken, [], 'see docs/architecture.md for what each area may import');
});

test('every area of src/ has import rules (a new folder is placed in the layering)', () => {
  const areas = readdirSync(SRC).filter((n) => statSync(join(SRC, n)).isDirectory());
  assert.deepEqual(
    areas.filter((a) => !(a in MAY_IMPORT)),
    [],
    'add the new area to MAY_IMPORT here and to docs/architecture.md',
  );
});

// Node.js 20's recursive mkdir never returns on some file systems (src/io/make-dirs.ts says which):
// every folder src/ creates with its parents goes through makeDirs.
test('src/ makes folders with their parents only through makeDirs (no recursive mkdir)', () => {
  const found: string[] = [];
  for (const file of files(SRC)) {
    const rel = relative(SRC, file).replaceAll('\\', '/');
    if (rel === 'io/make-dirs.ts') continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\bmkdir(?:Sync)?\([^;]*?recursive:\s*true/g))
      found.push(`${rel}:${text.slice(0, m.index).split('\n').length}`);
  }
  assert.deepEqual(found, [], 'use makeDirs from src/io/make-dirs.ts');
});
