/**
 * A small real app for the installer tests: a Node script in an app folder that records each run
 * (version, arguments, NOTSOTUF_HANDOVER, pid) and then behaves as its folder's app.json says:
 * confirm (writes the confirm file, as client.confirm() does), crash (exit 3), hang (never confirms),
 * run (just records), or start-handover (the running old version: calls the real startHandover with
 * its own pid, waits a moment, notes which version the install folder holds, and exits).
 */
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository (not through helpers/cli.ts, which loads the whole CLI). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type AppMode = 'confirm' | 'crash' | 'hang' | 'run' | 'start-handover';

export interface AppConfig {
  version: string;
  mode: AppMode;
  runsDir: string;
  confirmFile?: string;
  /** start-handover: a JSON file with the plan (pid is filled in by the app). */
  planFile?: string;
  /** start-handover: how long to stay alive after starting the installer. */
  lingerMs?: number;
  /** start-handover: the seams' shell (e.g. bash in POSIX mode). */
  shell?: string;
  /** start-handover: the module that exports startHandover (default: src/client/install.ts, through tsx). */
  installModule?: string;
}

export interface RunRecord {
  version: string;
  args: string[];
  handover: string | null;
  pid: number;
  cwd: string;
}

export interface ExitRecord {
  version: string;
  pid: number;
  exitAt: number;
  /** The VERSION file in the install folder just before this process exited. */
  sawVersion: string;
}

const APP_SOURCE = `import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
const here = dirname(fileURLToPath(import.meta.url));
// Records by temp file and rename: the test reads them while the app may still be writing.
const record = (path, value) => { writeFileSync(path + '.tmp', JSON.stringify(value)); renameSync(path + '.tmp', path); };
const cfg = JSON.parse(readFileSync(join(here, 'app.json'), 'utf8'));
record(join(cfg.runsDir, 'run-' + cfg.version + '-' + process.pid + '.json'), { version: cfg.version,
  args: process.argv.slice(2), handover: process.env.NOTSOTUF_HANDOVER ?? null, pid: process.pid, cwd: process.cwd() });
if (cfg.mode === 'confirm') {
  writeFileSync(cfg.confirmFile, '');
} else if (cfg.mode === 'crash') {
  process.exit(3);
} else if (cfg.mode === 'hang') {
  setInterval(() => {}, 1000);
} else if (cfg.mode === 'start-handover') {
  const { startHandover } = await import(pathToFileURL(cfg.installModule ?? ${JSON.stringify(join(ROOT, 'src/client/install.ts'))}).href);
  const plan = JSON.parse(readFileSync(cfg.planFile, 'utf8'));
  await startHandover({ ...plan, pid: process.pid }, cfg.shell ? { shell: cfg.shell } : {});
  await new Promise((r) => setTimeout(r, cfg.lingerMs ?? 0));
  const sawVersion = readFileSync(join(plan.installDir, 'VERSION'), 'utf8');
  record(join(cfg.runsDir, 'exit-' + cfg.version + '-' + process.pid + '.json'),
    { version: cfg.version, pid: process.pid, exitAt: Date.now(), sawVersion });
  process.exit(0);
}
`;

/** Writes one version of the app into `dir` (with `unixExtras`, a symlink and an executable file, to check the swap keeps them). */
export async function writeHandoverApp(dir: string, config: AppConfig, unixExtras = true): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await writeFile(join(dir, 'app.mjs'), APP_SOURCE);
  await writeFile(join(dir, 'app.json'), JSON.stringify(config));
  await writeFile(join(dir, 'VERSION'), config.version);
  if (unixExtras) {
    await writeFile(join(dir, 'bin', 'tool.sh'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
    await symlink('bin/tool.sh', join(dir, 'tool'));
  }
}

export async function readRuns(runsDir: string): Promise<{ runs: RunRecord[]; exits: ExitRecord[] }> {
  const runs: RunRecord[] = [];
  const exits: ExitRecord[] = [];
  for (const name of (await readdir(runsDir)).sort()) {
    if (!name.endsWith('.json')) continue; // a record being written
    const value: unknown = JSON.parse(await readFile(join(runsDir, name), 'utf8'));
    if (name.startsWith('run-')) runs.push(value as RunRecord);
    if (name.startsWith('exit-')) exits.push(value as ExitRecord);
  }
  return { runs, exits };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Arguments that break naive quoting. */
export const TRICKY_ARGS = [
  'plain',
  'with space',
  "it's",
  'say "hi"',
  '$HOME',
  '`id`',
  '$(id)',
  'ünïcödé €',
  '',
  'back\\slash\\',
  '*',
  '-n',
  'semi;colon & amp | pipe > gt',
  'line\nbreak',
];

/**
 * Sets or clears the immutable attribute (chattr +i), which makes a rename fail even for root: the one
 * way to make a swap step fail here, where tests run as root. False when the file system or user
 * cannot (then the caller skips).
 */
export function setImmutable(path: string, on: boolean): boolean {
  const r = spawnSync('chattr', [on ? '+i' : '-i', path], { stdio: 'ignore' });
  return r.status === 0;
}
