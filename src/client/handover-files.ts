import { join } from 'node:path';
import { handoverDir, handoverLogPath } from './handover.js';

/** Where one hand-over's files go (all in <stateDir>/handover/). */
export interface HandoverFiles {
  readonly dir: string;
  /** The generated script (removes itself when done). */
  readonly script: string;
  /** What the script did, step by step. */
  readonly log: string;
  /** stdout and stderr of the app the script restarts (it has no terminal any more). */
  readonly appLog: string;
  /** Windows only: the small script that starts the app and reports its exit (install.windows.ts). */
  readonly runner: string;
  /** The running installer's pid, removed when it has written its result: one installer at a time. */
  readonly pidFile: string;
}

export function handoverFiles(stateDir: string, platform: 'posix' | 'windows'): HandoverFiles {
  const dir = handoverDir(stateDir);
  return {
    dir,
    script: join(dir, platform === 'windows' ? 'install.cmd' : 'install.sh'),
    log: handoverLogPath(stateDir),
    appLog: join(dir, 'app-output.log'),
    runner: join(dir, 'restart.cmd'),
    pidFile: join(dir, 'installer.pid'),
  };
}
