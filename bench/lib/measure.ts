import { spawn } from 'node:child_process';

export interface Measured {
  /** Wall time in seconds. */
  readonly seconds: number;
  /** CPU time (user + system) in seconds: less sensitive than wall time to a busy machine. */
  readonly cpuSeconds: number;
  /** Peak resident memory of the process, in MB (from /usr/bin/time -v). */
  readonly peakMb: number;
  /**
   * Only for a command that times its own work and prints `IN_PROCESS {"seconds":..,"cpuSeconds":..}`
   * (our apply, bench/lib/diff-entry.ts): that work without the process's start-up, as a client
   * that applies in its running process spends it.
   */
  readonly inProcess?: { readonly seconds: number; readonly cpuSeconds: number };
}

/**
 * Runs `command args` under /usr/bin/time -v and returns its wall time and peak RSS. Throws with the
 * command's output when it fails.
 */
export function measure(command: string, args: readonly string[]): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn('/usr/bin/time', ['-v', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - start) / 1000;
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(out);
      if (code !== 0 || rss === null) {
        reject(new Error(`${command} ${args.join(' ')} failed (exit ${code}):\n${out.slice(-2000)}`));
        return;
      }
      const user = /User time \(seconds\): ([\d.]+)/.exec(out);
      const sys = /System time \(seconds\): ([\d.]+)/.exec(out);
      const cpuSeconds = Number(user?.[1] ?? NaN) + Number(sys?.[1] ?? NaN);
      const own = /^IN_PROCESS (\{.*\})$/m.exec(out);
      const inProcess =
        own === null ? {} : { inProcess: JSON.parse(own[1] as string) as Measured['inProcess'] };
      resolve({ seconds, cpuSeconds, peakMb: Number(rss[1]) / 1024, ...inProcess });
    });
  });
}
