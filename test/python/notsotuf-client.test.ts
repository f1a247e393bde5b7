// The Python front end's own tests (python/tests, pytest) run here, in the pinned venv that .ci/run
// makes (python/requirements/pyinstaller.txt), so the suite's one test command runs them. The
// tests that drive the real CLI get it through a tiny wrapper program (NOTSOTUF_TEST_CLI) around
// the CLI's sources, and must not skip (NOTSOTUF_TEST_REQUIRE_CLI=1).
import assert from 'node:assert/strict';
import { chmod, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI_COMMAND, ROOT } from '../helpers/cli.js';
import { pythonVenv } from '../helpers/python.js';
import { runProcess } from '../support/processes.js';

const py = pythonVenv('pyinstaller');

/** A shell script that runs the notsotuf CLI with its arguments (a stand-in for the executable). */
async function cliWrapper(dir: string): Promise<string> {
  const path = join(dir, 'notsotuf cli'); // a space in the executable's path on purpose
  const quoted = CLI_COMMAND.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
  await writeFile(path, `#!/bin/sh\nexec ${quoted} "$@"\n`);
  await chmod(path, 0o755);
  return path;
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number | null; output: string }> {
  return runProcess(command, args, options);
}

test(
  'pytest python/tests: notsotuf_client parsing, locating, processes and the real CLI',
  { skip: process.platform === 'win32' ? 'POSIX shell wrappers' : py.skip, timeout: 600_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'notsotuf-pytest-'));
    try {
      const wrapper = await cliWrapper(dir);
      const r = await run(py.python!, ['-m', 'pytest', '-q', '-rs', '-p', 'no:cacheprovider', 'tests'], {
        cwd: join(ROOT, 'python'),
        env: {
          ...process.env,
          NOTSOTUF_TEST_CLI: wrapper,
          NOTSOTUF_TEST_REQUIRE_CLI: '1',
          PYTHONDONTWRITEBYTECODE: '1',
        },
      });
      assert.equal(r.code, 0, `pytest failed:\n${r.output}`);
      // Every test ran: none skipped, and the summary names the passes.
      assert.doesNotMatch(r.output, /skipped/, r.output);
      assert.match(r.output, /\d+ passed/, r.output);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  'mypy --strict: notsotuf_client is fully typed (it ships py.typed)',
  { skip: py.skip, timeout: 600_000 },
  async () => {
    const cache = await mkdtemp(join(tmpdir(), 'notsotuf-mypy-'));
    try {
      const r = await run(
        py.python!,
        ['-m', 'mypy', '--strict', '--cache-dir', cache, join('src', 'notsotuf_client')],
        { cwd: join(ROOT, 'python'), env: { ...process.env } },
      );
      assert.equal(r.code, 0, `mypy found problems:\n${r.output}`);
      assert.match(r.output, /Success: no issues found/);
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  },
);

test(
  'python/ builds a wheel that holds the package and its py.typed marker',
  { skip: py.skip, timeout: 600_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'notsotuf-wheel-'));
    try {
      // A copy: building writes build/ and *.egg-info next to the sources.
      await cp(join(ROOT, 'python'), join(dir, 'src'), {
        recursive: true,
        filter: (p) => !/(__pycache__|\.egg-info|[\\/]build)$/.test(p),
      });
      const built = await run(
        py.python!,
        [
          '-m',
          'pip',
          'wheel',
          '--no-deps',
          '--no-build-isolation',
          '--no-index',
          '-q',
          '-w',
          join(dir, 'out'),
          join(dir, 'src'),
        ],
        { cwd: dir, env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' } },
      );
      assert.equal(built.code, 0, built.output);
      const listed = await run(
        py.python!,
        [
          '-c',
          'import glob, sys, zipfile; print("\\n".join(zipfile.ZipFile(glob.glob(sys.argv[1])[0]).namelist()))',
          join(dir, 'out', '*.whl'),
        ],
        { cwd: dir, env: { ...process.env } },
      );
      assert.equal(listed.code, 0, listed.output);
      for (const name of [
        'notsotuf_client/__init__.py',
        'notsotuf_client/py.typed',
        'notsotuf_client/_client.py',
      ])
        assert.ok(listed.output.split('\n').includes(name), `${name} is not in the wheel:\n${listed.output}`);
      assert.doesNotMatch(listed.output, /tests\//, 'the tests are not shipped');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
