import assert from 'node:assert/strict';
import { readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { appFolder, hashTree, tempDir } from '../repo/publisher-fixture.js';

/**
 * Every bad input to the publisher: a clear message, a non-zero exit, and the project folder
 * (config, keys, repository, cache) byte for byte as it was.
 */
interface Project {
  readonly dir: string;
  readonly apps: string;
  readonly env: Record<string, string>;
}

async function project(options: { encrypt?: boolean } = {}): Promise<Project> {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const env: Record<string, string> = options.encrypt === true ? { NOTSOTUF_PASSPHRASE: 'right one' } : {};
  const init = await cli(
    ['init', '--yes', '--app', 'demo', ...(options.encrypt === true ? ['--encrypt'] : [])],
    { cwd: dir, env },
  );
  assert.equal(init.code, 0, init.stderr);
  for (const v of ['1.0.0', '1.1.0']) {
    const r = await cli(['release', 'add', v, await appFolder(apps, v)], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
  }
  return { dir, apps, env };
}

/** Runs `args` and checks: exit code, message, and nothing changed in the project folder. */
async function refusedUnchanged(
  p: Project,
  args: string[],
  code: number,
  message: RegExp,
  env = p.env,
): Promise<CliResult> {
  const before = await hashTree(p.dir);
  const r = await cli(args, { cwd: p.dir, env });
  assert.equal(r.code, code, `exit code of ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, message);
  assert.deepEqual(await hashTree(p.dir), before, 'the project folder is byte for byte unchanged');
  return r;
}

test('release add refuses a missing folder', async () => {
  const p = await project();
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', join(p.apps, 'nope')],
    2,
    /release folder .*nope does not exist/,
  );
});

test('release add refuses a file instead of a folder', async () => {
  const p = await project();
  const file = join(p.apps, 'app.zip');
  await writeFile(file, 'not a folder');
  await refusedUnchanged(p, ['release', 'add', '2.0.0', file], 2, /is a file, not a folder/);
});

test('release add refuses an older version and an equal version (rollback by the publisher)', async () => {
  const p = await project();
  const folder = await appFolder(p.apps, 'x');
  await refusedUnchanged(
    p,
    ['release', 'add', '1.0.5', folder],
    2,
    /demo 1\.0\.5 is not newer than the latest release 1\.1\.0/,
  );
  await refusedUnchanged(
    p,
    ['release', 'add', '1.1.0', folder],
    2,
    /not newer than the latest release 1\.1\.0/,
  );
  await refusedUnchanged(p, ['release', 'add', '1.1.0rc1', folder], 2, /not newer/);
  // Equal under normalisation counts as equal.
  await refusedUnchanged(p, ['release', 'add', 'v1.1.0', folder], 2, /not newer/);
});

test('release add refuses an invalid app name and an invalid version, naming the value and the rule', async () => {
  const p = await project();
  const folder = await appFolder(p.apps, 'x');
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', folder, '--app', 'my app'],
    2,
    /"my app" is not a valid app name: use letters, digits/,
  );
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', folder, '--app', '../evil'],
    2,
    /not a valid app name/,
  );
  await refusedUnchanged(
    p,
    ['release', 'add', 'banana', folder],
    2,
    /"banana" is not a valid version: use PEP 440/,
  );
  await refusedUnchanged(p, ['release', 'add', '2.0.0+local', folder], 2, /local label/);
});

test('release add refuses a folder with unsafe links (absolute, or leaving the folder)', async () => {
  const p = await project();
  const abs = await appFolder(p.apps, 'abs');
  await symlink('/etc/passwd', join(abs, 'passwd'));
  await refusedUnchanged(p, ['release', 'add', '2.0.0', abs], 2, /cannot pack .*passwd/);
  const out = await appFolder(p.apps, 'out');
  await symlink('../../outside', join(out, 'lib', 'escape'));
  await refusedUnchanged(p, ['release', 'add', '2.0.0', out], 2, /cannot pack .*escape/);
});

test('release add refuses when a needed key is missing', async () => {
  const p = await project();
  await rm(join(p.dir, 'keys', 'targets.key'));
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', await appFolder(p.apps, '2.0.0')],
    2,
    /no targets key in .*keys/,
  );
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', await appFolder(p.apps, '2.0.0'), '--keys', join(p.dir, 'nowhere')],
    2,
    /no targets key/,
  );
});

test('encrypted keys: wrong passphrase and no passphrase are refused', async () => {
  const p = await project({ encrypt: true });
  const pem = await readFile(join(p.dir, 'keys', 'targets.key'), 'utf8');
  assert.match(pem, /BEGIN ENCRYPTED PRIVATE KEY/);
  const folder = await appFolder(p.apps, '2.0.0');
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', folder],
    2,
    /wrong passphrase for key "(targets|snapshot|timestamp)"/,
    { NOTSOTUF_PASSPHRASE: 'wrong' },
  );
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', folder],
    2,
    /key "targets" is encrypted: give its passphrase .*NOTSOTUF_PASSPHRASE_TARGETS/,
    {},
  );
  // The per-key variable wins over the general one.
  const ok = await cli(['release', 'add', '2.0.0', folder], {
    cwd: p.dir,
    env: {
      NOTSOTUF_PASSPHRASE: 'wrong',
      NOTSOTUF_PASSPHRASE_TARGETS: 'right one',
      NOTSOTUF_PASSPHRASE_SNAPSHOT: 'right one',
      NOTSOTUF_PASSPHRASE_TIMESTAMP: 'right one',
    },
  });
  assert.equal(ok.code, 0, ok.stderr);
});

async function newestTargets(dir: string): Promise<string> {
  const names = (await readdir(join(dir, 'repository', 'metadata'))).filter((n) =>
    /^\d+\.targets\.json$/.test(n),
  );
  names.sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  return join(dir, 'repository', 'metadata', names[names.length - 1] ?? '');
}

test('a corrupted metadata file is refused by every command that writes, and status fails', async () => {
  const p = await project();
  const file = await newestTargets(p.dir);
  const bytes = await readFile(file);
  await writeFile(file, bytes.subarray(0, bytes.length - 20));
  const folder = await appFolder(p.apps, '2.0.0');
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', folder],
    1,
    /does not verify, nothing was changed:\n.*targets\.json is not valid targets metadata/,
  );
  await refusedUnchanged(p, ['release', 'remove-latest'], 1, /does not verify/);
  await refusedUnchanged(p, ['refresh', '--force', 'timestamp'], 1, /does not verify/);
  await refusedUnchanged(p, ['sign', 'targets'], 1, /does not verify/);
  await refusedUnchanged(p, ['keys', 'add', 'targets', 'snapshot'], 1, /does not verify/);
  await refusedUnchanged(p, ['status'], 1, /problem: .*targets\.json/);
  await refusedUnchanged(p, ['publish', join(p.apps, 'public')], 1, /nothing was published/);
});

test('a hand-edited metadata file (a signed field changed) is refused: its signature does not verify', async () => {
  const p = await project();
  const file = await newestTargets(p.dir);
  const json = JSON.parse(await readFile(file, 'utf8')) as {
    signed: { targets: Record<string, { custom: { notsotuf: { required: boolean } } }> };
  };
  const archive = json.signed.targets['demo-1.1.0.tar.gz'];
  assert.ok(archive);
  archive.custom.notsotuf.required = true;
  await writeFile(file, JSON.stringify(json, null, 2));
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', await appFolder(p.apps, '2.0.0')],
    1,
    /signature of key [0-9a-f]{12} does not verify \(the file was edited or corrupted/,
  );
  await refusedUnchanged(p, ['status'], 1, /signature of key .* does not verify/);
});

test('a hand-edited timestamp.json and a tampered target file are found by status', async () => {
  const p = await project();
  const ts = join(p.dir, 'repository', 'metadata', 'timestamp.json');
  const original = await readFile(ts, 'utf8');
  await writeFile(
    ts,
    original.replace(/"expires": "(\d{4})/, (_m, y: string) => `"expires": "${Number(y) + 5}`),
  );
  await refusedUnchanged(p, ['status'], 1, /timestamp\.json: the signature of key .* does not verify/);
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', await appFolder(p.apps, '2.0.0')],
    1,
    /does not verify/,
  );
  await writeFile(ts, original);
  const targets = join(p.dir, 'repository', 'targets');
  const archive = (await readdir(targets)).find((n) => n.endsWith('.demo-1.0.0.tar.gz'));
  assert.ok(archive);
  await writeFile(join(targets, archive), 'tampered');
  await refusedUnchanged(
    p,
    ['status'],
    1,
    /target file .*demo-1\.0\.0\.tar\.gz is 8 bytes, signed length is/,
  );
});

test('release add refuses bad --meta and --rollout values', async () => {
  const p = await project();
  const folder = await appFolder(p.apps, '2.0.0');
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', folder, '--meta', '{not json'],
    2,
    /--meta is not valid JSON/,
  );
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', folder, '--meta', '[1,2]'],
    2,
    /--meta must be a JSON object/,
  );
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', folder, '--meta', '{"score":1.5}'],
    2,
    /\$\.score is not a whole number/,
  );
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', folder, '--rollout', '0'],
    2,
    /rollout 0 is not a whole percentage/,
  );
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', folder, '--rollout', '50.5'],
    2,
    /--rollout must be a whole number/,
  );
});

test('commands without a config say how to make one', async () => {
  const dir = await tempDir();
  const r = await cli(['release', 'add', '1.0.0', dir], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no notsotuf\.json at .*: run "notsotuf init" here, or pass --config PATH/);
  const bad = await cli(['init', '--yes'], { cwd: dir });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /init --yes needs --app NAME/);
  const short = await cli(['init', '--yes', '--app', 'x', '--root-days', '1'], { cwd: dir });
  assert.equal(short.code, 2);
  assert.match(short.stderr, /root expiry of 1 days is too short/);
  assert.deepEqual(
    [...(await hashTree(dir)).keys()].filter((k) => k === 'notsotuf.json'),
    [],
  );
});

test('refresh exits non-zero when a role that must be re-signed has no key here', async () => {
  const p = await project();
  await rm(join(p.dir, 'keys', 'timestamp.key'));
  await refusedUnchanged(
    p,
    ['refresh', '--force', 'timestamp'],
    1,
    /timestamp must be re-signed but no key for it is in/,
  );
  const fresh = await cli(['refresh'], { cwd: p.dir });
  assert.equal(fresh.code, 0, 'nothing due: nothing needed');
});

test('release add refuses the project folder itself (it holds the private keys) and folders inside the repository', async () => {
  const p = await project();
  await refusedUnchanged(
    p,
    ['release', 'add', '2.0.0', '.'],
    2,
    /contains the key folder .*: pass the folder of the built app only/,
  );
  await refusedUnchanged(p, ['release', 'add', '2.0.0', 'repository/targets'], 2, /is inside the repository/);
});

test('a target file changed in place (same length) is found by status; --lengths-only is the quick check that cannot', async () => {
  const p = await project();
  const targets = join(p.dir, 'repository', 'targets');
  const archive = (await readdir(targets)).find((n) => n.endsWith('.demo-1.1.0.tar.gz'));
  assert.ok(archive);
  const bytes = await readFile(join(targets, archive));
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
  await writeFile(join(targets, archive), bytes);
  await refusedUnchanged(
    p,
    ['status'],
    1,
    /target file .*demo-1\.1\.0\.tar\.gz does not match its signed sha256/,
  );
  const quick = await cli(['status', '--lengths-only'], { cwd: p.dir });
  assert.equal(quick.code, 0);
  assert.match(quick.stdout, /checked \(lengths only, not hashes\)/);
});
