/**
 * The single-file client executables (dist/exe/, npm run build:exe) for tests: built on first use
 * when missing or stale, never skipped, and run as real processes with no Node on the PATH.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { freshExecutable } from '../../scripts/exe/build.js';
import { runProcess } from '../support/processes.js';

export { freshExecutable } from '../../scripts/exe/build.js';

/** This process's PATH without every folder that holds a `node` (or node.exe). */
export function pathWithoutNode(): string {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '' && !existsSync(join(dir, 'node')) && !existsSync(join(dir, 'node.exe')))
    .join(delimiter);
}

/** An environment with no Node anywhere: PATH without node, no NODE_OPTIONS or other NODE_* variables. */
export function envWithoutNode(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NODE_') && k !== 'PATH') env[k] = v;
  return { ...env, PATH: pathWithoutNode(), ...extra };
}

export interface ExeResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the Linux client executable as a real process in an environment with no Node. */
export async function runClientExe(args: string[], options: { cwd?: string } = {}): Promise<ExeResult> {
  const exe = await freshExecutable('linux-x64');
  const r = await runProcess(exe, args, { cwd: options.cwd ?? process.cwd(), env: envWithoutNode() });
  return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
}
