/** Finding and stopping the detached processes a fault test starts (Linux /proc). */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

/** Pids of processes whose command line contains `needle`. */
export async function pidsWithArg(needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0');
      if (cmd.some((a) => a.includes(needle))) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * A process that just waits (stands for the app the installer waits for). Kill it to let the
 * installer go on. It never outlives a failed test by long: it exits by itself after two minutes,
 * and it does not keep the test process alive.
 */
export function blocker(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' });
  child.unref();
  return child;
}

/** Resolves when the child has exited, with its exit code and signal. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}
