/**
 * The main job, end to end, on this machine: publish two releases of a small sample app with the
 * notsotuf CLI, serve the repository over HTTP on 127.0.0.1, install the first release, run it, and
 * watch it update itself to the second (by patch, with progress), restart, and confirm.
 *
 * Run: npm run demo   (everything happens in a temp folder that is removed at the end;
 *                      NOTSOTUF_DEMO_KEEP=1 keeps it for a look)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { unpackArchive } from '../src/archive/index.js';
import { runMain } from '../src/cli/main.js';
import { readHandoverResult } from '../src/client/handover.js';
import { loadConfig } from '../src/repo/config.js';
import { readReleases } from '../src/repo/release.js';
import { targetFileRel } from '../src/repo/release-list.js';
import { serveRepository } from '../src/repo/serve.js';

const CLIENT_ENTRY = fileURLToPath(new URL('../src/client/index.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

function step(text: string): void {
  console.log(`\n\u001b[1m== ${text}\u001b[0m`);
}

async function notsotuf(cwd: string, ...args: string[]): Promise<void> {
  console.log(`$ notsotuf ${args.join(' ')}`);
  const code = await runMain(args, {
    cwd,
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    prompt: undefined,
  });
  if (code !== 0) throw new Error(`notsotuf ${args.join(' ')} exited with ${code}`);
}

/** One release of the sample app: a Node script that prints its version and updates itself. */
async function writeSampleApp(folder: string, version: string, payload: Buffer): Promise<void> {
  await mkdir(join(folder, 'resources'), { recursive: true });
  await writeFile(
    join(folder, 'app.mjs'),
    `// sample app ${version}
import { readFileSync } from 'node:fs';
import { Client } from ${JSON.stringify(CLIENT_ENTRY)};

const VERSION = ${JSON.stringify(version)};
const say = (line) => console.log('  [app ' + VERSION + '] ' + line);
const client = new Client({ ...JSON.parse(readFileSync(process.env.DEMO_CLIENT, 'utf8')), currentVersion: VERSION });
say('started' + (process.env.NOTSOTUF_HANDOVER ? ' (restarted by the installer)' : ''));
const update = await client.check(); // the first check of a new version also confirms it started
if (update.kind === 'none') {
  say('up to date');
} else {
  say('update available: ' + update.version + ' by ' + update.kind + ', ' + update.downloadBytes + ' bytes to download');
  let shown = -1;
  const staged = await client.install(update, {
    onProgress: (p) => {
      if (p.bytesDone === shown) return;
      shown = p.bytesDone;
      say('downloading ' + p.file + ': ' + p.bytesDone + ' / ' + p.totalBytes + ' bytes');
    },
  });
  say('staged ' + staged.version + ' (built from ' + staged.via + '); quitting so the installer can swap');
  await staged.quitAndInstall();
}
`,
  );
  await writeFile(join(folder, 'resources', 'payload.bin'), payload);
  await writeFile(join(folder, 'resources', 'version.txt'), `${version}\n`);
  await writeFile(join(folder, 'start.sh'), '#!/bin/sh\nexec node "$(dirname "$0")/app.mjs" "$@"\n');
  await chmod(join(folder, 'start.sh'), 0o755);
}

function runApp(installDir: string, env: Record<string, string>): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, join(installDir, 'app.mjs')], {
      cwd: installDir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'notsotuf-demo-'));
  let server: { url: string; close(): Promise<void> } | undefined;
  try {
    const publisher = join(root, 'publisher');
    await mkdir(publisher);

    step('Publisher: a new project with keys and an empty signed repository');
    await notsotuf(publisher, 'init', '--yes', '--app', 'sample');

    step('Publisher: release 1.0.0 and 1.1.0 of the sample app (1.1.0 changes a few bytes of a 2 MB file)');
    const payload = randomBytes(2 * 1024 * 1024);
    await writeSampleApp(join(root, 'build-1.0.0'), '1.0.0', payload);
    payload.fill(7, 100_000, 100_400);
    await writeSampleApp(join(root, 'build-1.1.0'), '1.1.0', payload);
    await notsotuf(publisher, 'release', 'add', '1.0.0', '../build-1.0.0');
    await notsotuf(
      publisher,
      'release',
      'add',
      '1.1.0',
      '../build-1.1.0',
      '--meta',
      '{"changelog":"Faster."}',
    );
    await notsotuf(publisher, 'status');

    step('Server: the static repository over HTTP on 127.0.0.1');
    const repository = join(publisher, 'repository');
    server = await serveRepository({ root: repository, host: '127.0.0.1', port: 0 });
    console.log(`serving ${repository} at ${server.url}`);

    step('User: install 1.0.0 (unpack its archive) and start it');
    const installDir = join(root, 'installed', 'sample');
    const config = await loadConfig(publisher);
    const first = (await readReleases(config)).find((r) => r.version === '1.0.0');
    if (first === undefined) throw new Error('release 1.0.0 is missing');
    const firstArchive = join(repository, ...targetFileRel(first.archive, first.archiveSha256).split('/'));
    await unpackArchive(firstArchive, installDir);
    const stateDir = join(root, 'state', 'sample');
    const clientSettings = join(root, 'client.json');
    await writeFile(
      clientSettings,
      JSON.stringify({
        appName: 'sample',
        installDir,
        stateDir,
        metadataUrl: `${server.url}/metadata`,
        targetsUrl: `${server.url}/targets`,
        trustedRoot: join(repository, 'metadata', '1.root.json'),
        healthTimeoutSeconds: 30,
        waitTimeoutSeconds: 30,
      }),
    );
    await runApp(installDir, { DEMO_CLIENT: clientSettings });

    step('Installer: waits for 1.0.0 to exit, swaps the folders, restarts the app; 1.1.0 confirms');
    const deadline = Date.now() + 60_000;
    let result = await readHandoverResult(stateDir);
    while (result === undefined && Date.now() < deadline) {
      await sleep(200);
      result = await readHandoverResult(stateDir);
    }
    if (result === undefined)
      throw new Error(`no installer result after 60 s: see ${join(stateDir, 'handover')}`);
    const installed = (await readFile(join(installDir, 'resources', 'version.txt'), 'utf8')).trim();
    const archiveSize = (await stat(firstArchive)).size;
    console.log(`installer outcome: ${result.outcome} (${result.previousVersion} -> ${result.version})`);
    console.log(`installed version now: ${installed} (a full archive would have been ~${archiveSize} bytes)`);

    step('User: start the app again');
    await runApp(installDir, { DEMO_CLIENT: clientSettings });
    if (result.outcome !== 'installed' || installed !== '1.1.0') throw new Error('the update did not land');
    console.log('\ndemo finished: the app updated itself from 1.0.0 to 1.1.0');
  } finally {
    await server?.close();
    if (process.env.NOTSOTUF_DEMO_KEEP === '1') console.log(`kept ${root}`);
    else await rm(root, { recursive: true, force: true });
  }
}

await main();
