import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runMain } from '../../src/cli/main.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../src/cli/bin.ts', import.meta.url));
// Resolved here, not from the child's working folder (tests run the CLI in temp folders).
const TSX = import.meta.resolve('tsx');

/** The command line that runs the CLI from its sources as a real process (for wrappers and other languages' tests). */
export const CLI_COMMAND: readonly string[] = [process.execPath, '--import', TSX, BIN];

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process (fast). */
export async function cli(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string | undefined> } = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runMain(args, {
    cwd: opts.cwd ?? process.cwd(),
    env: { ...opts.env },
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    prompt: undefined,
  });
  return { code, stdout, stderr };
}

/** Runs the CLI as a real process (for exit codes, signals and stdin). */
export function cliProcess(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string | undefined>; input?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, BIN, ...args], {
      cwd: opts.cwd ?? process.cwd(),
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}
