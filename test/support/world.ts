/**
 * Shared pieces of the client, fault and attack tests: a project served over HTTP for the whole
 * test file (`servedProject`), a fresh install of a published version, a byte-for-byte digest of
 * an install folder and a snapshot of the client's cached state (trusted metadata and cached tars)
 * to compare before and after, and a scan for files left under temp names.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { Client } from '../../src/client/client.js';
import type { ClientOptions } from '../../src/client/client-options.js';
import type { Project } from './fixture.js';
import { clientOptions, installVersion, makeProject, writeApp } from './fixture.js';
import { startTestServer, type TestServer } from './test-server.js';
import type { AddReleaseOptions, AddReleaseResult } from '../../src/repo/release.js';
import { addRelease, DIFF_PATCH_MAKER } from '../../src/repo/release.js';

/**
 * Every entry of a folder, sorted: path, type, permission bits, and the sha256 of the content (or
 * the link target). Two folders with equal digests hold the same bytes under the same names.
 */
export async function folderDigest(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const rel = relative(dir, p);
      const s = await lstat(p);
      const mode = (s.mode & 0o7777).toString(8);
      if (s.isSymbolicLink()) out.push(`${rel} link ${await readlink(p)}`);
      else if (s.isDirectory()) {
        out.push(`${rel} dir ${mode}`);
        await walk(p);
      } else if (s.isFile()) {
        const sha = createHash('sha256')
          .update(await readFile(p))
          .digest('hex');
        out.push(`${rel} file ${mode} ${s.size} ${sha}`);
      } else out.push(`${rel} other ${mode}`);
    }
  };
  await walk(dir);
  return out;
}

/** The client's cached state that a failed update must not touch: trusted metadata and cached tars. */
export async function cachedState(stateDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const sub of ['metadata', 'tars']) {
    let names: string[] = [];
    try {
      names = (await readdir(join(stateDir, sub))).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const bytes = await readFile(join(stateDir, sub, n));
      out.set(`${sub}/${n}`, createHash('sha256').update(bytes).digest('hex'));
    }
  }
  return out;
}

/** Files and folders under `root` whose names say they are unfinished (temp, partial, staging). */
export async function unfinished(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const p = join(d, name);
      if (/\.(partial|tmp|gunzip)$|\.tmp-|notsotuf-staging-/.test(name)) out.push(relative(root, p));
      if ((await lstat(p)).isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return out;
}

export interface Install {
  readonly root: string;
  readonly installDir: string;
  readonly stateDir: string;
  readonly options: ClientOptions;
  readonly client: (extra?: Partial<ClientOptions>) => Client;
  readonly cleanup: () => Promise<void>;
}

export interface FreshInstallOptions {
  /** The installed version (default 1.0.0). */
  readonly version?: string;
  /** Adds a local file, so the plan is the full archive instead of patches. */
  readonly modified?: boolean;
  /** Where the temp folder goes (default: the system temp folder). */
  readonly parent?: string;
}

/**
 * A fresh install of `version` in a temp folder (`<root>/apps/<app>`, state in `<root>/state`).
 * `modified` adds a local file, so the folder no longer packs to the signed tar and the plan is the
 * full archive instead of patches.
 */
export async function freshInstall(
  project: Project,
  baseUrl: string,
  name: string,
  opts: FreshInstallOptions = {},
): Promise<Install> {
  const root = await mkdtemp(join(opts.parent ?? tmpdir(), `notsotuf-${name}-`));
  const installDir = join(root, 'apps', project.config.app);
  const stateDir = join(root, 'state');
  await mkdir(dirname(installDir), { recursive: true });
  await installVersion(project, opts.version ?? '1.0.0', installDir);
  if (opts.modified === true) await writeFile(join(installDir, 'local-change.txt'), 'x');
  const options: ClientOptions = {
    ...clientOptions(project, baseUrl, installDir, stateDir),
    currentVersion: opts.version ?? '1.0.0',
    // The client's own stall timeout (30 s): these installs download honestly on a loaded machine.
    // A test of a stalling server passes a short one to the client it expects to stall.
  };
  return {
    root,
    installDir,
    stateDir,
    options,
    client: (extra = {}) => new Client({ ...options, ...extra }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** The signed tar digest of a published version. */
export function releaseTar(project: Project, version: string): { sha256: string; length: number } {
  const r = project.releases.find((p) => p.version === version);
  if (r === undefined) throw new Error(`version ${version} not published`);
  return r.result.tar;
}

/** Whether `dir` holds exactly the published `version` (by the reproducible tar digest). */
export async function holdsVersion(project: Project, dir: string, version: string): Promise<boolean> {
  const d = await hashFolderAsTar(dir);
  const want = releaseTar(project, version);
  return d.sha256 === want.sha256 && d.length === want.length;
}

/** Publishes `version` of the fixture app with any `release add` option (rollout, required, ...). */
export async function publishWith(
  project: Project,
  version: string,
  options: Omit<AddReleaseOptions, 'patchMaker'> = {},
): Promise<AddReleaseResult> {
  const folder = join(project.dir, 'builds', version);
  await writeApp(folder, version);
  const result = await addRelease(project.config, version, folder, {
    ...options,
    patchMaker: DIFF_PATCH_MAKER,
  });
  project.releases.push({ version: result.version, result });
  return result;
}

/** What an update must leave as it was when it fails: the install folder and the cached state. */
export interface Snapshot {
  readonly app: string[];
  readonly state: Map<string, string>;
}

export async function snapshot(inst: Pick<Install, 'installDir' | 'stateDir'>): Promise<Snapshot> {
  return { app: await folderDigest(inst.installDir), state: await cachedState(inst.stateDir) };
}

export interface ServedProject {
  /** The project, with the file's releases published by our publisher (real keys, real patches). */
  readonly project: Project;
  /** A TestServer over the project's repository folder (read on each request). */
  readonly server: TestServer;
  /** A fresh install (see `freshInstall`) against `server`, removed after the test file. */
  install(name: string, opts?: FreshInstallOptions): Promise<Install>;
}

/**
 * The set-up the client, fault and security tests share, as this test file's before/after hooks:
 * a project with `versions` published, `prepare` (publish with options, refresh a role, tamper
 * with a target) before a TestServer starts over its repository; everything is removed after.
 * Call it at the top level of a test file; `project` and `server` are there once `before` ran.
 */
export function servedProject(
  versions: readonly string[] = ['1.0.0', '1.1.0'],
  prepare?: (project: Project) => Promise<void>,
): ServedProject {
  let project: Project | undefined;
  let server: TestServer | undefined;
  const installs: Install[] = [];
  before(async () => {
    project = await makeProject();
    for (const v of versions) await project.publish(v);
    await prepare?.(project);
    server = await startTestServer({ root: project.config.repository });
  });
  after(async () => {
    for (const i of installs) await i.cleanup();
    await server?.close();
    await project?.cleanup();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('servedProject: used before its before() hook ran');
    return value;
  };
  return {
    get project() {
      return ready(project);
    },
    get server() {
      return ready(server);
    },
    install: async (name, opts) => {
      const inst = await freshInstall(ready(project), ready(server).url, name, opts);
      installs.push(inst);
      return inst;
    },
  };
}
