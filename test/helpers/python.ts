/**
 * Python virtual environments for tests: `python/requirements/<name>.txt` is installed into
 * `.venv/<name>/` by scripts/python-venvs.sh (run by .ci/run; locally `npm run venvs`).
 *
 *   const py = pythonVenv('python-tuf');
 *   test('...', { skip: py.skip }, async () => { spawn(py.python, [...]) });
 *
 * On a developer machine without the venv, `skip` says why and how to make it. Under CI=true a
 * missing venv is a failure, not a skip: pythonVenv throws (the test file fails to load). The skip
 * reason is marked as a missing tool (test/helpers/skip.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inCI, skipUnlessTool } from './skip.js';

/** The repository (not through helpers/cli.ts, which loads the whole CLI). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type PythonVenv =
  { readonly python: string; readonly skip: false } | { readonly python: undefined; readonly skip: string };

const cache = new Map<string, PythonVenv>();

/** The venv's python for python/requirements/<name>.txt, or why tests must skip. */
export function pythonVenv(name: string): PythonVenv {
  const known = cache.get(name);
  if (known) return known;
  const requirements = join(ROOT, 'python', 'requirements', `${name}.txt`);
  if (!existsSync(requirements)) throw new Error(`no python/requirements/${name}.txt`);
  const python = join(
    ROOT,
    '.venv',
    name,
    process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python',
  );
  let reason: string | undefined;
  if (!existsSync(python)) {
    reason = `.venv/${name} is missing (run: scripts/python-venvs.sh ${name}; .ci/run makes it)`;
  } else {
    const r = spawnSync(python, ['-c', 'import sys; print(sys.version)'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (r.error || r.status !== 0) {
      reason = `.venv/${name}/ does not run (${r.error?.message ?? r.stderr.trim()}); remove it and run scripts/python-venvs.sh ${name}`;
    }
  }
  if (reason !== undefined && inCI()) {
    throw new Error(`CI=true and ${reason}`);
  }
  const result: PythonVenv =
    reason === undefined
      ? { python, skip: false }
      : { python: undefined, skip: skipUnlessTool(reason) as string };
  cache.set(name, result);
  return result;
}
