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

/** The parent pid of a process (field 4 of /proc/PID/stat), or undefined once it has exited. */
async function parentPid(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: read after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

/**
 * Like pidsWithArg, without the short-lived subshells a script forks for `$(...)` (they carry the
 * same command line): only processes whose parent is not itself in the set.
 */
export async function topPidsWithArg(needle: string): Promise<number[]> {
  const pids = await pidsWithArg(needle);
  const set = new Set(pids);
  const top: number[] = [];
  for (const pid of pids) {
    const parent = await parentPid(pid);
    if (parent !== undefined && !set.has(parent)) top.push(pid);
  }
  return top;
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
