// The Python test environments that .ci/run makes (scripts/python-venvs.sh) hold the pinned
// packages the interop tests rely on, each in its own venv (tufup 0.10.0 needs tuf 4.0).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { pythonVenv } from '../helpers/python.js';

const CHECKS: ReadonlyArray<[venv: string, module: string, version: string]> = [
  ['python-tuf', 'tuf', '7.0.1'],
  ['tufup', 'tufup', '0.10.0'],
  ['tufup', 'tuf', '4.0.0'],
];

for (const [venv, module, version] of CHECKS) {
  const py = pythonVenv(venv);
  test(`.venv/${venv} has ${module} ${version}`, { skip: py.skip }, () => {
    const r = spawnSync(
      py.python!,
      ['-c', `import importlib.metadata as m; print(m.version(${JSON.stringify(module)}))`],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), version);
  });
}
