import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unpackArchive } from '../../src/archive/index.js';
import type { HandoverResult } from '../../src/client/handover.js';
import { readHandoverResult } from '../../src/client/handover.js';
import { runProcess, type ProcessOutput } from './processes.js';
import { pseudoRandom } from './random.js';
import { waitFor } from './wait-for.js';
import type { ClientOptions } from '../../src/client/client-options.js';
import type { PatchInfo } from '../../src/diff/index.js';
import { createPatch, PATCH_FORMAT_2 } from '../../src/diff/index.js';
import type { RepoConfig } from '../../src/repo/config.js';
import { initRepository } from '../../src/repo/init.js';
import type { AddReleaseResult } from '../../src/repo/release.js';
import { addRelease } from '../../src/repo/release.js';
import { targetFileRel } from '../../src/repo/release-list.js';

/**
 * A small real app and a real repository for client tests: the app folder of each version is a
 * Node script (`app.mjs`) that prints its version and calls the client, plus a data file that
 * changes a little between versions (so patches are much smaller than archives), a nested folder,
 * an executable and a symlink. Releases are published with our own publisher (real keys, real
 * signatures, real patches) into a temp folder.
 */

export const SRC_CLIENT = fileURLToPath(new URL('../../src/client/index.ts', import.meta.url));
export const TSX_LOADER = import.meta.resolve('tsx');

export interface AppBehaviour {
  /** The app exits with an error at start, before confirming (a broken release). */
  crash?: boolean;
}

/** The script of version `version` of the demo app. */
function appScript(version: string, behaviour: AppBehaviour): string {
  return `// demo app ${version}: prints its version, checks for updates, installs them, quits.
import { appendFileSync, readFileSync } from 'node:fs';
import { Client } from ${JSON.stringify(SRC_CLIENT)};

const VERSION = ${JSON.stringify(version)};
const settings = JSON.parse(readFileSync(process.env.DEMO_SETTINGS, 'utf8'));
const log = (line) => appendFileSync(settings.log, line + '\\n');
console.log('demo ' + VERSION);
log('run ' + VERSION + ' handover=' + (process.env.NOTSOTUF_HANDOVER ?? '') + ' args=' + JSON.stringify(process.argv.slice(2)));
${behaviour.crash === true ? "log('crash ' + VERSION);\nprocess.exit(3);\n" : ''}
try {
  const client = new Client({ ...settings.client, currentVersion: VERSION });
  const update = await client.check();
  if (update.kind === 'none') {
    log('done ' + VERSION + ' last=' + (client.lastHandover?.outcome ?? 'none'));
  } else {
    log('update ' + VERSION + ' -> ' + update.version + ' ' + update.kind + ' ' + update.downloadBytes);
    const staged = await client.install(update);
    log('staged ' + staged.version + ' via ' + staged.via);
    await staged.quitAndInstall();
    log('quit ' + VERSION);
  }
} catch (error) {
  log('error ' + VERSION + ' ' + (error && error.stack));
  process.exitCode = 1;
}
`;
}

/** Writes version `version` of the demo app into `folder`. */
export async function writeApp(folder: string, version: string, behaviour: AppBehaviour = {}): Promise<void> {
  await mkdir(join(folder, 'lib', 'deep'), { recursive: true });
  await writeFile(join(folder, 'app.mjs'), appScript(version, behaviour));
  await writeFile(join(folder, 'version.txt'), `${version}\n`);
  // 256 KiB of incompressible data where each version changes a few small spots.
  const data = pseudoRandom(256 * 1024, 42);
  const n = Number(version.split('.')[1] ?? '0');
  for (let i = 0; i < n; i++) pseudoRandom(64, 1000 + i).copy(data, 10_000 + i * 50_000);
  await writeFile(join(folder, 'lib', 'data.bin'), data);
  await writeFile(join(folder, 'lib', 'deep', `notes-${version}.txt`), `notes for ${version}\n`);
  await writeFile(join(folder, 'run.sh'), `#!/bin/sh\necho ${version}\n`);
  await chmod(join(folder, 'run.sh'), 0o755);
  await symlink('lib/data.bin', join(folder, 'data-link'));
}

export interface Published {
  readonly version: string;
  readonly result: AddReleaseResult;
}

export interface Project {
  readonly dir: string;
  readonly config: RepoConfig;
  readonly releases: Published[];
  publish(
    version: string,
    behaviour?: AppBehaviour,
    options?: { required?: boolean; corruptPatch?: boolean },
  ): Promise<AddReleaseResult>;
  /** Path of a target file inside the repository folder (consistent snapshot name). */
  targetFile(name: string, sha256: string): string;
  cleanup(): Promise<void>;
}

/**
 * A publisher bug, built in code: a real patch with a byte flipped after it was made, then signed
 * as it is (its sha256 and length are the corrupted file's). TUF verifies it; applying it fails.
 */
async function createCorruptPatch(oldTar: string, newTar: string, patchPath: string): Promise<PatchInfo> {
  const info = await createPatch(oldTar, newTar, patchPath);
  const bytes = await readFile(patchPath);
  const at = bytes.length - 10;
  bytes[at] = (bytes[at] ?? 0) ^ 0xff;
  await writeFile(patchPath, bytes);
  return { ...info, patchSha256: createHash('sha256').update(bytes).digest('hex') };
}

export async function makeProject(app = 'demo'): Promise<Project> {
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-client-'));
  const config = await initRepository(join(dir, 'publisher'), { app });
  const releases: Published[] = [];
  return {
    dir,
    config,
    releases,
    async publish(version, behaviour = {}, options = {}) {
      const folder = join(dir, 'builds', version);
      await writeApp(folder, version, behaviour);
      const result = await addRelease(config, version, folder, {
        patchMaker: {
          format: PATCH_FORMAT_2,
          create: options.corruptPatch === true ? createCorruptPatch : (a, b, c) => createPatch(a, b, c),
        },
        ...(options.required === true ? { required: true } : {}),
      });
      releases.push({ version, result });
      return result;
    },
    targetFile: (name, sha256) => join(config.repository, ...targetFileRel(name, sha256).split('/')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Installs a published version the way an installer would: a strict unpack of its archive. */
export async function installVersion(project: Project, version: string, installDir: string): Promise<void> {
  const r = project.releases.find((p) => p.version === version);
  if (r === undefined) throw new Error(`version ${version} not published`);
  await unpackArchive(project.targetFile(r.result.archive.name, r.result.archive.sha256), installDir);
}

export function clientOptions(
  project: Project,
  baseUrl: string,
  installDir: string,
  stateDir: string,
): ClientOptions {
  return {
    appName: project.config.app,
    installDir,
    currentVersion: '1.0.0',
    stateDir,
    metadataUrl: `${baseUrl}/metadata`,
    targetsUrl: `${baseUrl}/targets`,
    trustedRoot: join(project.config.repository, 'metadata', '1.root.json'),
    healthTimeoutSeconds: 20,
    waitTimeoutSeconds: 30,
  };
}

type CliConfigKey =
  'appName' | 'installDir' | 'currentVersion' | 'stateDir' | 'metadataUrl' | 'targetsUrl' | 'trustedRoot';

/**
 * update.json, the config file an app in another language ships for the CLI, written to `file`
 * from client options (paths as given: absolute, or relative to the file's folder; settings left
 * out are left out of the file) and `extra` settings.
 */
export async function writeCliConfig(
  file: string,
  options: Partial<Pick<ClientOptions, CliConfigKey>>,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const { appName, installDir, currentVersion, stateDir, metadataUrl, targetsUrl, trustedRoot } = options;
  const settings = { appName, installDir, currentVersion, stateDir, metadataUrl, targetsUrl, trustedRoot };
  await writeFile(file, JSON.stringify({ ...settings, ...extra }));
  return file;
}

/** Runs the installed demo app as a real process (node + tsx), like a user starting it. */
export function runApp(
  installDir: string,
  settingsFile: string,
  args: string[] = [],
): Promise<ProcessOutput> {
  return runProcess(process.execPath, ['--import', TSX_LOADER, join(installDir, 'app.mjs'), ...args], {
    cwd: installDir,
    env: { ...process.env, DEMO_SETTINGS: settingsFile, NOTSOTUF_HANDOVER: '' },
  });
}

export async function readLog(file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
  } catch {
    return [];
  }
}

export function waitForResult(stateDir: string, seconds = 60): Promise<HandoverResult> {
  return waitFor('the installer result', () => readHandoverResult(stateDir), seconds);
}

// Shared with tests outside the client area through this module until they import test/support directly.
export { waitFor } from './wait-for.js';
export { pseudoRandom } from './random.js';
export { exitedPid } from './processes.js';
