/**
 * What the interoperability tests share: a repository made by our CLI (init and releases), and the
 * check that an independent TUF client (python-tuf's ngclient, go-tuf) downloaded every listed
 * target with the bytes our CLI published. Both clients print the same JSON report.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
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
