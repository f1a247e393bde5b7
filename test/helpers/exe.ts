/**
 * The single-file client executables (dist/exe/, npm run build:exe) for tests: built on first use
 * when missing or stale, never skipped, and run as real processes with no Node on the PATH.
 */
import { spawnSync } from 'node:child_process';
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

/** The Linux executables tests run: natively, or the arm64 one under qemu-user on an x64 machine. */
export type LinuxExe = 'linux-x64' | 'linux-arm64';

/** Where Debian's libc6-arm64-cross puts the aarch64 libraries (`qemu-aarch64 -L` reads them there). */
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';

/** The full path of `bin` on this process's PATH, or undefined (the tests' PATH drops node's folders). */
function onPath(bin: string): string | undefined {
  const r = spawnSync('/bin/sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * Why the linux-arm64 executable cannot run here (for skipUnlessTool), or undefined when it can:
 * natively on an arm64 Linux, else under qemu-user with the aarch64 C and C++ libraries.
 */
export function arm64ExeMissing(): string | undefined {
  if (process.platform === 'linux' && process.arch === 'arm64') return undefined;
  if (onPath('qemu-aarch64') === undefined)
    return 'qemu-aarch64 (Debian package qemu-user) runs the linux-arm64 executable';
  for (const lib of ['ld-linux-aarch64.so.1', 'libstdc++.so.6'])
    if (!existsSync(join(ARM64_SYSROOT, 'lib', lib)))
      return `${ARM64_SYSROOT}/lib/${lib} (Debian packages libc6-arm64-cross libstdc++6-arm64-cross)`;
  return undefined;
}

/**
 * Runs a Linux client executable as a real process in an environment with no Node: linux-x64
 * natively, linux-arm64 natively on arm64 or else under `qemu-aarch64` (user-mode emulation of the
 * same binary a Raspberry Pi or Graviton user runs; the programs it starts run natively).
 */
export async function runClientExe(
  args: string[],
  options: { cwd?: string; platform?: LinuxExe } = {},
): Promise<ExeResult> {
  const platform = options.platform ?? 'linux-x64';
  const exe = await freshExecutable(platform);
  const emulate = platform === 'linux-arm64' && process.arch !== 'arm64';
  const [program, argv] = emulate
    ? [onPath('qemu-aarch64') ?? 'qemu-aarch64', ['-L', ARM64_SYSROOT, exe, ...args]]
    : [exe, args];
  const r = await runProcess(program, argv, { cwd: options.cwd ?? process.cwd(), env: envWithoutNode() });
  return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
}
