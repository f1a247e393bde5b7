/**
 * What the interoperability tests share: a repository made by our CLI (init and releases), and the
 * check that an independent TUF client (python-tuf's ngclient, go-tuf) downloaded every listed
 * target with the bytes our CLI published. Both clients print the same JSON report.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { appFolder } from '../repo/publisher-fixture.js';

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
export async function twoOfTwoTargets(dir: string): Promise<{ repo: string; bDir: string }> {
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
