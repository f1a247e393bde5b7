import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `probe` until it returns a value (detached installers, restarted apps, other processes).
 * `seconds` is a bound for a loaded machine, never a timing assertion.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  seconds = 60,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
