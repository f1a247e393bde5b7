import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { COMMANDS } from '../../src/cli/commands/index.js';
import { ROOT, cli } from '../helpers/cli.js';
import { hashTree, tempDir } from '../repo/publisher-fixture.js';
import { writeCliConfig } from '../support/fixture.js';
import { startTestServer } from '../support/test-server.js';

/** Mistakes a first-time user makes: each gets a clear message and a non-zero exit, never a stack. */
async function project(): Promise<string> {
  const dir = await tempDir();
  const r = await cli(['init', '--yes', '--app', 'demo'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

function noStack(stderr: string): void {
  assert.doesNotMatch(stderr, /unexpected failure|\n\s+at /, 'no stack trace');
}

test('an unexpected extra argument is refused, with the usage line, by commands that take none', async () => {
  const dir = await project();
  for (const args of [
    ['status', 'extra'],
    ['release', 'list', 'extra'],
    ['release', 'prune', 'extra'],
    ['keys', 'list', 'extra'],
    ['check', 'extra'],
    ['update', 'extra'],
    ['serve', 'extra'],
  ]) {
    const r = await cli(args, { cwd: dir });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /unexpected argument "extra"/);
    assert.match(r.stderr, new RegExp(`usage: notsotuf ${args.slice(0, -1).join(' ')} `));
  }
});

test('a missing argument prints the usage line', async () => {
  const dir = await project();
  const r = await cli(['keys', 'new'], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /missing key NAME\nusage: notsotuf keys new NAME/);
});

test('notsotuf with no command prints the help on stderr and exits 2; --help prints it on stdout', async () => {
  const none = await cli([]);
  assert.equal(none.code, 2);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /Commands:/);
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Commands:/);
});

test('command help shows short flags', async () => {
  const r = await cli(['init', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /-y, --yes/);
});

test('publish refuses a DEST that is a file, and a DEST that holds the key folder, changing nothing', async () => {
  const dir = await project();
  const file = join(dir, 'file.txt');
  await writeFile(file, 'x');
  const before = await hashTree(dir);
  const onFile = await cli(['publish', file], { cwd: dir });
  assert.equal(onFile.code, 2, onFile.stderr);
  assert.match(onFile.stderr, /is a file, not a folder/);
  noStack(onFile.stderr);
  const onProject = await cli(['publish', '.'], { cwd: dir });
  assert.equal(onProject.code, 2, onProject.stderr);
  assert.match(onProject.stderr, /contains the key folder .*publish to a folder of its own/);
  assert.deepEqual(await hashTree(dir), before, 'nothing was written');
  assert.deepEqual((await readdir(dir)).sort(), [
    '.notsotuf-cache',
    'file.txt',
    'keys',
    'notsotuf.json',
    'repository',
  ]);
});

test('serve refuses a bad port, a file, a missing folder and a busy port with advice', async () => {
  const dir = await project();
  await mkdir(join(dir, 'empty'));
  await writeFile(join(dir, 'file.txt'), 'x');
  const bigPort = await cli(['serve', '--port', '99999'], { cwd: dir });
  assert.equal(bigPort.code, 2);
  assert.match(bigPort.stderr, /--port must be from 0 to 65535/);
  const onFile = await cli(['serve', '--dir', 'file.txt', '--port', '0'], { cwd: dir });
  assert.equal(onFile.code, 2);
  assert.match(onFile.stderr, /is a file, not a folder/);
  const missing = await cli(['serve', '--dir', 'nope', '--port', '0'], { cwd: dir });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope does not exist/);
  // Another server holds the port.
  const busy = await startTestServer();
  try {
    const { port } = busy;
    const r = await cli(['serve', '--port', String(port)], { cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /is already in use: stop the other server or pick another --port/);
    noStack(r.stderr);
  } finally {
    await busy.close();
  }
});

test('bin/notsotuf.js without a build says to run npm run build (real process, a copy of the bin beside no dist/)', async () => {
  const dir = await tempDir('notsotuf-bin-');
  await mkdir(join(dir, 'bin'));
  await copyFile(join(ROOT, 'bin', 'notsotuf.js'), join(dir, 'bin', 'notsotuf.js'));
  await writeFile(join(dir, 'package.json'), '{"type":"module"}');
  const r = spawnSync(process.execPath, [join(dir, 'bin', 'notsotuf.js'), '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'notsotuf: the CLI is not built (dist/ is missing): run "npm run build" first\n');
});

test('every option of every command has a --help line that says what it does', async () => {
  for (const c of COMMANDS) {
    const r = await cli([...c.path, '--help']);
    assert.equal(r.code, 0);
    for (const name of Object.keys(c.options ?? {})) {
      const line = (r.stdout.split('\nOptions:\n')[1] ?? '')
        .split('\n')
        .find((l) => new RegExp(`^  (-\\w, )?--${name}( |$)`).test(l));
      assert.ok(line !== undefined, `${c.path.join(' ')} --help lists --${name}`);
      assert.match(
        line,
        new RegExp(`--${name}( VALUE)?( \\(repeatable\\))?\\s{2,}\\S`),
        `${c.path.join(' ')} --${name} has a description`,
      );
    }
  }
});

test('release list --app of an app with no releases names that app', async () => {
  const dir = await project();
  const r = await cli(['release', 'list', '--app', 'other'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'no releases of other yet: notsotuf release add VERSION FOLDER --app other\n');
});

test('a command group (release, keys) lists its commands; help COMMAND shows that command; unknown commands are named without their flags', async () => {
  const groupHelp = await cli(['release', '--help']);
  assert.equal(groupHelp.code, 0);
  assert.match(
    groupHelp.stdout,
    /Usage: notsotuf release <command>[\s\S]*release add[\s\S]*release remove-latest/,
  );
  const bare = await cli(['keys']);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /"notsotuf keys" needs a command[\s\S]*keys threshold/);
  const typo = await cli(['keys', 'lst']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown command "keys lst"[\s\S]*keys list/);
  const helpOf = await cli(['help', 'keys', 'add']);
  assert.equal(helpOf.code, 0);
  assert.match(helpOf.stdout, /^Usage: notsotuf keys add ROLE NAME/);
  const unknown = await cli(['nothing', '--help']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^error: unknown command "nothing"\n/);
});

test('check refuses a misspelt setting in its config file instead of silently ignoring it', async () => {
  const dir = await tempDir('notsotuf-client-');
  const config = await writeCliConfig(
    join(dir, 'update.json'),
    {
      appName: 'demo',
      installDir: 'app',
      currentVersion: '1.0.0',
      stateDir: 'state',
      metadataUrl: 'http://127.0.0.1:9/metadata',
      targetsUrl: 'http://127.0.0.1:9/targets',
      trustedRoot: 'root.json',
    },
    { chanel: 'beta' },
  );
  const r = await cli(['check', '--config', config], { cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /unknown setting "chanel": the settings are appName, .*channel/);
});

test('a publisher command run from a subfolder of the project points at the project instead of suggesting init', async () => {
  const dir = await project();
  await mkdir(join(dir, 'dist'));
  const r = await cli(['status'], { cwd: join(dir, 'dist') });
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /no notsotuf\.json in .*dist; the project is .*: run the command there, or pass --config .*notsotuf\.json/,
  );
  assert.doesNotMatch(r.stderr, /notsotuf init/);
});

test('keys list with a key folder that does not exist says so (it listed "no keys", exit 0)', async () => {
  const dir = await project();
  const r = await cli(['keys', 'list', '--keys', 'nope'], { cwd: dir });
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr, /key folder .*nope does not exist/);
});

test('check and update refuse an install folder that does not exist before any download', async () => {
  const dir = await tempDir('notsotuf-client-');
  const flags = [
    '--app-name',
    'demo',
    '--install-dir',
    join(dir, 'nope'),
    '--current-version',
    '1.0.0',
    '--state-dir',
    join(dir, 'state'),
    '--metadata-url',
    'http://127.0.0.1:9/metadata',
    '--targets-url',
    'http://127.0.0.1:9/targets',
    '--trusted-root',
    join(dir, 'root.json'),
  ];
  for (const command of ['check', 'update']) {
    const r = await cli([command, ...flags, '--yes'].slice(0, command === 'check' ? -1 : undefined), {
      cwd: dir,
    });
    assert.equal(r.code, 2, `${command}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /installDir .*nope is not a folder/);
  }
});
