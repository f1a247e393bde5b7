/**
 * Builds the single-file client executables (Node single executable applications, "SEA"):
 * the client-only CLI bundled into one CommonJS file, turned into a SEA blob by the pinned Node's
 * `--experimental-sea-config`, and injected with postject (pinned devDependency) into a copy of the
 * pinned `node` binary of each platform. Every file is written under a temp name in dist/exe/ and
 * renamed into place, so an interrupted build never leaves a half-written executable under its name.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundle, ROOT } from './bundle.js';
import { clientExeName } from '../../src/repo/installer.js';
import type { ExePlatform } from './node-binary.js';
import { EXE_PLATFORMS, NODE_VERSION, nodeBinary } from './node-binary.js';
import { withChecksum, withoutSignature } from './pe.js';

export const EXE_DIR = join(ROOT, 'dist', 'exe');

/** Node's fixed fuse string that tells a binary it carries a SEA blob (Node's SEA docs). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** The file name of the executable of `platform`. */
export function exeName(platform: ExePlatform): string {
  return clientExeName(platform);
}

/** The path of the built executable of `platform` (it may not exist yet). */
export function exePath(platform: ExePlatform): string {
  return join(EXE_DIR, exeName(platform));
}

/** Beside each executable: the sha256 of the client bundle it holds, to tell a stale build. */
function stampPath(platform: ExePlatform): string {
  return join(EXE_DIR, `.${exeName(platform)}.bundle-sha256`);
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Bumped when the build steps change what they write (2: Windows files lose node.exe's signature). */
const RECIPE = 2;

/** What a built executable is made of: the bundle, the Node version and the build steps. */
function stampFor(code: string): string {
  return `${sha256(code)} node-${NODE_VERSION} recipe-${RECIPE}\n`;
}

/**
 * The executable of `platform`, built first when it is missing or holds another client bundle
 * than the sources give now (tests use this, so they never run a stale executable).
 */
export async function freshExecutable(platform: ExePlatform): Promise<string> {
  const want = stampFor((await bundle()).code);
  const have = await readFile(stampPath(platform), 'utf8').catch(() => '');
  if (have === want && existsSync(exePath(platform))) return exePath(platform);
  await buildExecutables([platform]);
  return exePath(platform);
}

function run(command: string, args: string[], cwd: string): void {
  // No NODE_OPTIONS: a loader such as tsx's must not end up in the build.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${r.stderr || String(r.error)}`);
  }
}

/** A Node of the pinned version that runs here, to write the SEA blob (its format is Node's own). */
async function blobNode(): Promise<string> {
  if (process.version === `v${NODE_VERSION}`) return process.execPath;
  if (process.platform === 'linux' && process.arch === 'x64') return nodeBinary('linux-x64');
  throw new Error(
    `building the executables needs Node ${NODE_VERSION} (this is ${process.version} on ${process.platform}-${process.arch})`,
  );
}

export interface BuiltExe {
  readonly platform: ExePlatform;
  readonly path: string;
  readonly sha256: string;
}

/** Builds the executables of `platforms` (default: all) into dist/exe/. */
export async function buildExecutables(
  platforms: readonly ExePlatform[] = EXE_PLATFORMS,
): Promise<BuiltExe[]> {
  await mkdir(EXE_DIR, { recursive: true });
  const work = await mkdtemp(join(EXE_DIR, '.build-'));
  try {
    const { code } = await bundle();
    const stamp = stampFor(code);
    await writeFile(join(work, 'notsotuf-client.cjs'), code);
    await writeFile(
      join(work, 'sea-config.json'),
      JSON.stringify({
        main: 'notsotuf-client.cjs',
        output: 'sea-prep.blob',
        disableExperimentalSEAWarning: true,
        // Both are per platform; one blob serves every platform.
        useSnapshot: false,
        useCodeCache: false,
      }),
    );
    run(await blobNode(), ['--experimental-sea-config', 'sea-config.json'], work);
    const postject = join(ROOT, 'node_modules', 'postject', 'dist', 'cli.js');
    const built: BuiltExe[] = [];
    for (const platform of platforms) {
      const temp = join(work, exeName(platform));
      const windows = platform.startsWith('win-');
      // Windows: node.exe's Authenticode signature would no longer match; drop it (pe.ts).
      if (windows) await writeFile(temp, withoutSignature(await readFile(await nodeBinary(platform))));
      else await copyFile(await nodeBinary(platform), temp);
      await chmod(temp, 0o755);
      const macho = platform.startsWith('darwin') ? ['--macho-segment-name', 'NODE_SEA'] : [];
      run(
        process.execPath,
        [postject, temp, 'NODE_SEA_BLOB', 'sea-prep.blob', '--sentinel-fuse', SEA_FUSE, ...macho],
        work,
      );
      if (windows) await writeFile(temp, withChecksum(await readFile(temp)));
      const digest = sha256(await readFile(temp));
      await rename(temp, exePath(platform));
      await writeFile(join(work, 'stamp'), stamp);
      await rename(join(work, 'stamp'), stampPath(platform));
      built.push({ platform, path: exePath(platform), sha256: digest });
    }
    return built;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
