/**
 * What the interoperability tests share: a repository made by our CLI (init and releases), and the
 * check that an independent TUF client (python-tuf's ngclient, go-tuf) downloaded every listed
 * target with the bytes our CLI published. Both clients take the same flags and print the same JSON
 * report, so one wrapper runs either, and scenarios that hold for any TUF client are written once.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serveRepository } from '../../src/repo/index.js';
import { cli } from '../helpers/cli.js';
import { appFolder } from '../repo/publisher-fixture.js';
import { runProcess } from '../support/processes.js';

/** The JSON report an interop client prints (test/interop/ngclient_download.py, go-tuf/main.go). */
export interface ClientReport {
  ok: boolean;
  error?: string;
  message?: string;
  root_version?: number;
  timestamp_version?: number;
  targets?: Record<string, { length: number; sha256?: string; path?: string }>;
}

/** target name -> sha256 of the file our CLI wrote under targets/ (`<sha256>.<name>`). */
export async function publishedTargets(repo: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of await readdir(join(repo, 'targets'))) {
    const dot = f.indexOf('.');
    out.set(f.slice(dot + 1), f.slice(0, dot));
  }
  return out;
}

/** The targets of targets.json version `n` (not every file under targets/ is still listed). */
export async function listedTargets(repo: string): Promise<string[]> {
  const files = (await readdir(join(repo, 'metadata'))).filter((f) => /^\d+\.targets\.json$/.test(f));
  const newest = files.sort((a, b) => parseInt(b) - parseInt(a))[0]!;
  const md = JSON.parse(await readFile(join(repo, 'metadata', newest), 'utf8')) as {
    signed: { targets: Record<string, unknown> };
  };
  return Object.keys(md.signed.targets).sort();
}

/** Asserts the client downloaded every listed target with the bytes our CLI published. */
export async function assertDownloadedAll(repo: string, report: ClientReport): Promise<void> {
  assert.equal(report.ok, true, `${report.error}: ${report.message}`);
  const listed = await listedTargets(repo);
  const published = await publishedTargets(repo);
  assert.deepEqual(Object.keys(report.targets!).sort(), listed);
  for (const name of listed) {
    const got = report.targets![name]!;
    assert.equal(got.sha256, published.get(name), name);
    assert.equal(got.length, (await readFile(got.path!)).length, name);
  }
}

/** `notsotuf init` in `dir` and one `release add` per version; returns the repository folder. */
export async function initWithReleases(dir: string, versions: string[]): Promise<string> {
  const init = await cli(['init', '--yes', '--app', 'demo'], { cwd: dir });
  assert.equal(init.code, 0, init.stderr);
  for (const v of versions) {
    const r = await cli(['release', 'add', v, await appFolder(dir, v)], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
  }
  return join(dir, 'repository');
}

/**
 * A repository whose targets role needs 2 of 2 keys: `targets-b` lives in its own key folder
 * (`bDir`, another person's), so `release add 1.0.0` signs targets with 1 of 2 until
 * `notsotuf sign targets --keys bDir` adds the second.
 */
async function twoOfTwoTargets(dir: string): Promise<{ repo: string; bDir: string }> {
  await initWithReleases(dir, []);
  const bDir = join(dir, 'b-keys');
  await mkdir(bDir);
  assert.equal((await cli(['keys', 'new', 'targets-b', '--keys', bDir], { cwd: dir })).code, 0);
  await copyFile(join(bDir, 'targets-b.pub.json'), join(dir, 'keys', 'targets-b.pub.json'));
  const added = await cli(['keys', 'add', 'targets', 'targets-b', '--threshold', '2'], { cwd: dir });
  assert.equal(added.code, 0, added.stderr);
  const rel = await cli(['release', 'add', '1.0.0', await appFolder(dir, '1.0.0')], { cwd: dir });
  assert.equal(rel.code, 0, rel.stderr);
  return { repo: join(dir, 'repository'), bDir };
}

/** One independent client of one served repository; `run` starts it once more on its workdir. */
export interface InteropClient {
  readonly workdir: string;
  run(extra?: string[]): Promise<{ code: number; report: ClientReport }>;
  close(): Promise<void>;
}

/**
 * The client started as `command` (a program and its first arguments) against the repository at
 * `repo`, served on 127.0.0.1, trusting only its 1.root.json. Each call gets its own workdir; runs
 * of one client go on from what it trusts by then (a client in the field).
 */
export async function interopClient(
  command: readonly string[],
  dir: string,
  repo: string,
): Promise<InteropClient> {
  const [program, ...first] = command as [string, ...string[]];
  const server = await serveRepository({ root: repo });
  const workdir = join(dir, `client-${Math.random().toString(36).slice(2, 8)}`);
  const root = join(dir, 'trusted-1.root.json');
  await copyFile(join(repo, 'metadata', '1.root.json'), root);
  const base = ['--metadata-url', `${server.url}/metadata/`, '--targets-url', `${server.url}/targets/`];
  const run = async (extra: string[] = []): Promise<{ code: number; report: ClientReport }> => {
    const args = [...first, ...base, '--root', root, '--workdir', workdir, ...extra];
    const { code, stdout, stderr } = await runProcess(program, args);
    try {
      return { code: code ?? -1, report: JSON.parse(stdout) as ClientReport };
    } catch {
      throw new Error(`${command.join(' ')} printed no JSON (exit ${code}): ${stdout}\n${stderr}`);
    }
  };
  return { workdir, run, close: () => server.close() };
}

/**
 * Targets signed by 1 of the 2 keys they need are refused (the client's error class
 * `unsignedError`, nothing downloaded), and taken once `sign` adds the second signature.
 */
export async function refusedUntilSigned(
  dir: string,
  command: readonly string[],
  unsignedError: string,
): Promise<void> {
  const { repo, bDir } = await twoOfTwoTargets(dir);
  const client = await interopClient(command, dir, repo);
  try {
    const before = await client.run();
    assert.equal(before.code, 1);
    assert.equal(before.report.error, unsignedError, before.report.message);
    assert.deepEqual(await readdir(join(client.workdir, 'downloads')), [], 'nothing downloaded');

    const signed = await cli(['sign', 'targets', '--keys', bDir], { cwd: dir });
    assert.equal(signed.code, 0, signed.stderr);
    const after = await client.run();
    assert.equal(after.code, 0, after.report.message);
    assert.equal(after.report.root_version, 2);
    await assertDownloadedAll(repo, after.report);
  } finally {
    await client.close();
  }
}
