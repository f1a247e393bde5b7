/**
 * scripts/run-tests.mjs with test/helpers/skip.ts: a test skipped for a missing tool is listed at the
 * end of every run, and fails the run under CI=true; a plain skip (wrong platform) is listed only.
 * Runs the real script on a throw-away test folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const RUN_TESTS = fileURLToPath(new URL('../../scripts/run-tests.mjs', import.meta.url));
const SKIP_HELPER = new URL('../helpers/skip.ts', import.meta.url).href;

async function project(body: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-skips-'));
  await mkdir(join(dir, 'test'));
  await writeFile(
    join(dir, 'test', 'sample.test.ts'),
    `import { test } from 'node:test';\nimport { skipUnlessTool, skipTestUnlessTool } from ${JSON.stringify(SKIP_HELPER)};\n${body}\n`,
  );
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

function run(dir: string, ci: boolean): { status: number | null; out: string } {
  const env = { ...process.env };
  // The child is a test run of its own, not part of this one.
  delete env.NODE_TEST_CONTEXT;
  if (ci) env.CI = 'true';
  else delete env.CI;
  const r = spawnSync(process.execPath, [RUN_TESTS], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

const BODY = `
test('runs', () => {});
test('needs frobnicate', { skip: skipUnlessTool('frobnicate is not installed') }, () => {});
test('has frobnicate', { skip: skipUnlessTool(undefined) }, () => {});
test('windows only', { skip: 'not on this platform' }, () => {});
`;

test('a skip for a missing tool is listed with its reason and passes outside CI', async () => {
  const p = await project(BODY);
  try {
    const r = run(p.dir, false);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /skipped tests \(2\):/);
    assert.match(r.out, /sample\.test\.ts: needs frobnicate -- tool missing: frobnicate is not installed/);
    assert.match(r.out, /sample\.test\.ts: windows only -- not on this platform/);
    assert.match(r.out, /^2 passed, 0 failed, 2 skipped$/m);
  } finally {
    await p.remove();
  }
});

test('under CI=true a skip for a missing tool fails the run; a platform skip does not', async () => {
  const missing = await project(BODY);
  const platformOnly = await project(
    `test('runs', () => {});\ntest('windows only', { skip: 'not here' }, () => {});`,
  );
  try {
    const r = run(missing.dir, true);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /CI=true: 1 test\(s\) skipped for a missing tool/);
    assert.match(r.out, /needs frobnicate -- tool missing: frobnicate is not installed/);
    const ok = run(platformOnly.dir, true);
    assert.equal(ok.status, 0, ok.out);
    assert.match(ok.out, /^1 passed, 0 failed, 1 skipped$/m);
  } finally {
    await missing.remove();
    await platformOnly.remove();
  }
});

test('skipTestUnlessTool: skips inside the test locally, fails the test under CI=true', async () => {
  const p = await project(`
test('mount refused', (t) => {
  if (skipTestUnlessTool(t, 'cannot mount a tmpfs here')) return;
  throw new Error('not reached');
});
test('mount fine', (t) => {
  if (skipTestUnlessTool(t, undefined)) return;
});`);
  try {
    const local = run(p.dir, false);
    assert.equal(local.status, 0, local.out);
    assert.match(local.out, /mount refused -- tool missing: cannot mount a tmpfs here/);
    assert.match(local.out, /^1 passed, 0 failed, 1 skipped$/m);
    const ci = run(p.dir, true);
    assert.equal(ci.status, 1, ci.out);
    assert.match(ci.out, /tool missing: cannot mount a tmpfs here \(CI=true: a missing tool fails the run/);
    assert.match(ci.out, /^1 passed, 1 failed, 0 skipped$/m);
  } finally {
    await p.remove();
  }
});
