/**
 * The one way a test skips for a missing tool or capability (nginx, busybox, Wine, a python venv,
 * root for a tmpfs, chattr, a built executable, ...).
 *
 * On a developer's machine such a test skips and says why. Under CI=true it must not: a CI run that
 * lost a tool would otherwise stay green while testing nothing. So:
 * - `skipUnlessTool(reason)` gives the `skip` option of `test()`. The reason is marked, and
 *   scripts/run-tests.mjs fails a CI run that has any marked skip (and lists every skip at the end).
 * - `skipTestUnlessTool(t, reason)` is for a test that finds out inside its body (e.g. a mount was
 *   refused): it skips the test, or under CI throws, so the test itself fails.
 * A reason of `undefined`, `false` or `''` means the tool is there.
 * Skips that are right everywhere (a POSIX-only test on Windows) use plain `{ skip }`.
 */
import type { TestContext } from 'node:test';

/** The mark scripts/run-tests.mjs looks for in a skip reason. Keep in sync with it. */
export const TOOL_MISSING = 'tool missing: ';

/** True in a CI run (CI=true, as CI services and .ci/run's caller set it). */
export function inCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/** The `skip` option for a test that needs a tool: false when `reason` is empty, else the marked reason. */
export function skipUnlessTool(reason: string | false | undefined): string | false {
  if (reason === undefined || reason === false || reason === '') return false;
  return `${TOOL_MISSING}${reason}`;
}

/**
 * Inside a test: when `reason` is set, skips the test (returns true: the caller returns) or, under
 * CI, throws so the test fails with the reason. Returns false when the tool is there.
 */
export function skipTestUnlessTool(t: TestContext, reason: string | false | undefined): boolean {
  const marked = skipUnlessTool(reason);
  if (marked === false) return false;
  if (inCI()) throw new Error(`${marked} (CI=true: a missing tool fails the run; install it in .ci/run)`);
  t.skip(marked);
  return true;
}
