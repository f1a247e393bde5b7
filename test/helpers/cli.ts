import { fileURLToPath } from 'node:url';
import { runMain } from '../../src/cli/main.js';
import { runProcess } from '../support/processes.js';

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
export async function cliProcess(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string | undefined>; input?: string } = {},
): Promise<CliResult> {
  const r = await runProcess(process.execPath, ['--import', TSX, BIN, ...args], {
    cwd: opts.cwd ?? process.cwd(),
    env: { ...process.env, ...opts.env },
    input: opts.input ?? '',
  });
  return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
}
