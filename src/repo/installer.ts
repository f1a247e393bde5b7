import {
  chmod,
  copyFile,
  mkdtemp,
  open,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DataError, UsageError } from '../errors.js';
import { fsError } from '../io/fs-error.js';
import { listReleases } from './release-list.js';
import { inspectRepositoryMetadata } from './repository-files.js';
import { makeDirs } from '../io/make-dirs.js';

/** Platforms an installer can be made for: the client executables that are tested (docs/executables.md). */
export const INSTALLER_PLATFORMS = ['linux-x64', 'linux-arm64', 'win-x64'] as const;
export type InstallerPlatform = (typeof INSTALLER_PLATFORMS)[number];

/** The file name of the client executable of `platform` (`notsotuf-<platform>`, `.exe` on Windows). */
export function clientExeName(platform: string): string {
  return `notsotuf-${platform}${platform.startsWith('win-') ? '.exe' : ''}`;
}

export interface InstallerOptions {
  /** The publisher's repository folder (metadata/ and targets/). */
  readonly repository: string;
  /** The app as published (`<app>-<version>.tar.gz`); the repository must hold a release of it. */
  readonly app: string;
  readonly platform: InstallerPlatform;
  /** The URL the published repository is served at: metadata under `<baseUrl>/metadata`, targets under `<baseUrl>/targets`. */
  readonly baseUrl: string;
  /** The client executable of `platform` (dist/exe/notsotuf-<platform>[.exe]). */
  readonly exe: string;
  /** The folder to write; it must not exist or be empty. */
  readonly out: string;
  /** The install folder written into update.json (relative to it unless absolute). */
  readonly installDir: string;
  readonly channel?: string;
  /**
   * The app's command line written into update.json (`"command"`): the program, relative to the
   * install folder, then its arguments. `update --restart` starts it after an update.
   */
  readonly command?: readonly string[];
}

export interface InstallerResult {
  readonly out: string;
  readonly app: string;
  /** File names written into `out`. */
  readonly files: readonly string[];
  /** The executable's name in `out`. */
  readonly exeName: string;
  /** The root.json version shipped. */
  readonly rootVersion: number;
  /** The newest release of the app when the installer was made. */
  readonly newestVersion: string;
}

/** ELF `e_machine` and PE `Machine` values of the CPUs we ship executables for. */
const ELF_MACHINES: Readonly<Record<number, string>> = { 0x3e: 'x64', 0xb7: 'arm64' };
const PE_MACHINES: Readonly<Record<number, string>> = { 0x8664: 'x64', 0xaa64: 'arm64', 0x14c: 'ia32' };

/**
 * What an executable's first bytes say it is: `linux-x64`, `win-arm64`..., the OS alone when its
 * CPU is one we do not know (`linux-?`), or undefined when it is neither ELF nor PE.
 */
export function executablePlatform(head: Buffer): string | undefined {
  if (head.length >= 20 && head.readUInt32BE(0) === 0x7f454c46) {
    const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
    return `linux-${ELF_MACHINES[machine] ?? '?'}`;
  }
  if (head.length >= 64 && head.toString('latin1', 0, 2) === 'MZ') {
    const pe = head.readUInt32LE(0x3c);
    if (pe + 6 <= head.length && head.toString('latin1', pe, pe + 4) === 'PE\0\0')
      return `win-${PE_MACHINES[head.readUInt16LE(pe + 4)] ?? '?'}`;
    return 'win-?';
  }
  return undefined;
}

/** The repository's URLs from a base URL, refusing anything but http(s). */
export function repositoryUrls(baseUrl: string): { metadataUrl: string; targetsUrl: string } {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new UsageError(
      'INVALID_OPTION',
      `--base-url "${baseUrl}" is not a URL: give the address the published repository is served at, e.g. https://updates.example.com/myapp`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError('INVALID_OPTION', `--base-url must be an http:// or https:// URL, got "${baseUrl}"`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new UsageError('INVALID_OPTION', `--base-url must not have a ?query or #fragment: "${baseUrl}"`);
  }
  const base = url.href.replace(/\/+$/, '');
  return { metadataUrl: `${base}/metadata`, targetsUrl: `${base}/targets` };
}

async function checkExe(exe: string, platform: InstallerPlatform): Promise<void> {
  const head = Buffer.alloc(4096);
  let length: number;
  try {
    const fh = await open(exe, 'r');
    try {
      ({ bytesRead: length } = await fh.read(head, 0, head.length, 0));
    } finally {
      await fh.close();
    }
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UsageError(
        'EXE_NOT_BUILT',
        `no client executable for ${platform} at ${exe}: run "npm run build:exe" in the notsotuf folder, or pass --exe FILE`,
        { cause },
      );
    }
    throw fsError(cause, exe, { what: 'client executable', input: true, code: 'READ_FAILED' });
  }
  const found = executablePlatform(head.subarray(0, length));
  if (found === platform) return;
  const os = platform.startsWith('win-') ? 'Windows' : 'Linux';
  const wrongCpu = found?.startsWith(platform.split('-')[0]!) === true;
  throw new UsageError(
    'EXE_WRONG_PLATFORM',
    `${exe} is ${wrongCpu ? `a ${found} executable, not ${platform}` : `not a ${os} executable`}: pass the ${platform} one (npm run build:exe writes dist/exe/${clientExeName(platform)})`,
  );
}

async function checkOut(out: string): Promise<'missing' | 'empty'> {
  const info = await stat(out).catch((cause: NodeJS.ErrnoException) => {
    if (cause.code === 'ENOENT') return undefined;
    throw fsError(cause, out, { what: 'output folder', code: 'READ_FAILED' });
  });
  if (info === undefined) return 'missing';
  if (!info.isDirectory()) {
    throw new UsageError('OUT_NOT_A_FOLDER', `${out} is a file, not a folder: pass a new folder with --out`);
  }
  const entries = await readdir(out);
  if (entries.length > 0) {
    throw new UsageError(
      'OUT_DIR_NOT_EMPTY',
      `${out} is not empty (${entries.length} entries): pass a new or empty folder with --out; nothing was written`,
    );
  }
  return 'empty';
}

/** The app's command line must name a program: update.json with an empty one would be refused by every client. */
function checkCommand(command: readonly string[] | undefined): void {
  if (command === undefined) return;
  const [program] = command;
  if (program === undefined || program === '' || command.some((word) => word.includes('\0'))) {
    throw new UsageError(
      'BAD_ARGUMENTS',
      'the app\'s command needs a program (relative to the install folder), then its arguments, e.g. "-- myapp.exe --minimized"',
    );
  }
}

/**
 * Writes what an end user downloads to install the app: the client executable, the repository's
 * current trusted root.json (the signed bytes of the newest N.root.json) and an update.json with
 * the repository's URLs, ready for `notsotuf install --config update.json`. The folder is built
 * beside `out` and renamed into place, so `out` is complete or absent.
 */
export async function writeInstaller(options: InstallerOptions): Promise<InstallerResult> {
  const { metadataUrl, targetsUrl } = repositoryUrls(options.baseUrl);
  checkCommand(options.command);
  const inspection = await inspectRepositoryMetadata(options.repository, new Date());
  const state = inspection.state;
  if (state === undefined || inspection.problems.length > 0) {
    // An installer for a repository that clients refuse (expired, unsigned, corrupt) installs nothing.
    throw new DataError(
      'REPOSITORY_NOT_VALID',
      `the repository does not verify, so clients would refuse it; no installer was written:\n  ${inspection.problems.map((p) => p.message).join('\n  ')}\nRun "notsotuf status" for details (and "notsotuf refresh" or "notsotuf sign" to fix expiry or signatures).`,
    );
  }
  const releases = listReleases(state.targets.signed).filter((r) => r.app === options.app);
  const newest = releases.at(-1);
  if (newest === undefined) {
    const apps = [...new Set(listReleases(state.targets.signed).map((r) => r.app))].sort();
    throw new UsageError(
      'NO_RELEASE',
      `the repository has no release of ${options.app}: run "notsotuf release add VERSION FOLDER --app ${options.app}" first, or pass --app (${apps.length === 0 ? 'no releases yet' : `apps with releases: ${apps.join(', ')}`})`,
    );
  }
  await checkExe(options.exe, options.platform);
  const outState = await checkOut(options.out);
  const exeName = basename(options.exe);
  const updateJson = {
    appName: options.app,
    installDir: options.installDir,
    metadataUrl,
    targetsUrl,
    trustedRoot: 'root.json',
    ...(options.channel === undefined ? {} : { channel: options.channel }),
    ...(options.command === undefined ? {} : { command: options.command }),
  };
  const windows = options.platform.startsWith('win-');
  const command = `${windows ? '' : './'}${exeName} install --config update.json`;
  const readme = `To install ${options.app}, run in this folder:\n\n  ${command}\n\nroot.json is the trusted root of the update repository (${metadataUrl}); keep it with update.json.\n`;
  await makeDirs(dirname(options.out));
  const work = await mkdtemp(`${options.out}.partial-`);
  try {
    await copyFile(options.exe, join(work, exeName));
    if (!windows) await chmod(join(work, exeName), 0o755);
    await writeFile(join(work, 'root.json'), state.rootBytes);
    await writeFile(join(work, 'update.json'), `${JSON.stringify(updateJson, null, 2)}\n`);
    await writeFile(join(work, 'INSTALL.txt'), windows ? readme.replaceAll('\n', '\r\n') : readme);
    if (outState === 'empty') await rmdir(options.out);
    await rename(work, options.out);
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw fsError(error, options.out, { what: 'installer folder', code: 'WRITE_FAILED' });
  }
  return {
    out: options.out,
    app: options.app,
    files: [exeName, 'INSTALL.txt', 'root.json', 'update.json'],
    exeName,
    rootVersion: state.root.signed.version,
    newestVersion: newest.version,
  };
}
