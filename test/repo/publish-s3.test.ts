import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { Client } from '../../src/client/client.js';
import { publishTo, s3Destination } from '../../src/repo/index.js';
import { cli } from '../helpers/cli.js';
import type { CuttingProxy, S3Server } from '../helpers/s3proxy.js';
import { S3_SECRET_KEY, s3proxyMissing, startCuttingProxy, startS3Server } from '../helpers/s3proxy.js';
import { skipUnlessTool } from '../helpers/skip.js';
import type { Project } from '../support/fixture.js';
import {
  clientOptions,
  installVersion,
  makeProject,
  readLog,
  runApp,
  waitFor,
  waitForResult,
} from '../support/fixture.js';

/**
 * `notsotuf publish s3://...` against a real S3-compatible server (s3proxy on 127.0.0.1), and our
 * client updating straight from the bucket's HTTP endpoint. One server for the file: the JVM takes
 * seconds to start.
 */

const skip = skipUnlessTool(s3proxyMissing());
const CHILD = fileURLToPath(new URL('./publish-s3-child.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
let s3: S3Server;
let sdk: S3Client;
let bucketCount = 0;

before(async () => {
  if (skip !== false) return;
  s3 = await startS3Server();
  sdk = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID!, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY! },
  });
});

after(async () => {
  if (skip !== false) return;
  sdk.destroy();
  await s3.stop();
});

async function newBucket(): Promise<string> {
  const bucket = `releases-${++bucketCount}`;
  await sdk.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** Runs one test with a new publisher project, an empty bucket and a temp folder, removed after. */
async function inProject(
  work: (project: Project, bucket: string, root: string) => Promise<void>,
): Promise<void> {
  const project = await makeProject();
  const root = await mkdtemp(join(tmpdir(), 'notsotuf-s3-'));
  try {
    await work(project, await newBucket(), root);
  } finally {
    await rm(root, { recursive: true, force: true });
    await project.cleanup();
  }
}

/** Every object in the bucket with its ETag (to prove a refused publish changed nothing). */
async function objects(bucket: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const r = await sdk.send(new ListObjectsV2Command({ Bucket: bucket }));
  for (const o of r.Contents ?? [])
    if (o.Key !== undefined && !o.Key.endsWith('/')) out[o.Key] = o.ETag ?? '';
  return out;
}

/** `notsotuf publish s3://BUCKET/app` through the CLI, with the test server's credentials. */
function publishCli(
  configFile: string,
  bucket: string,
  extra: string[] = [],
  env: Record<string, string> = s3.env,
) {
  return cli(
    [
      'publish',
      `s3://${bucket}/app`,
      '--endpoint',
      s3.endpoint,
      '--acl',
      'public-read',
      '--config',
      configFile,
      ...extra,
    ],
    { env },
  );
}

test(
  'publish s3:// uploads targets, then versioned metadata, root.json and timestamp.json last, with CDN cache headers; the next publish uploads only what is new',
  { skip },
  () =>
    inProject(async (project, bucket) => {
      await project.publish('1.0.0');
      const dest = await s3Destination(
        { bucket, prefix: 'app' },
        { endpoint: s3.endpoint, env: s3.env, acl: 'public-read' },
      );
      const dry = await publishTo(project.config.repository, dest, { dryRun: true });
      assert.deepEqual(await objects(bucket), {}, 'a dry run uploads nothing');
      const seen: string[] = [];
      const first = await publishTo(project.config.repository, dest, {
        onFile: (rel, action) => void seen.push(`${action} ${rel}`),
      });
      assert.deepEqual(first.copied, dry.copied);
      assert.equal(seen.at(-1), 'copied metadata/timestamp.json');
      assert.equal(seen.at(-2), 'copied metadata/root.json');
      const lastTarget = Math.max(...seen.map((r, i) => (r.includes(' targets/') ? i : -1)));
      const firstMeta = seen.findIndex((r) => r.includes(' metadata/'));
      assert.ok(lastTarget < firstMeta, 'every target before any metadata');
      assert.deepEqual(Object.keys(await objects(bucket)).sort(), first.copied.map((r) => `app/${r}`).sort());

      // Served as a CDN needs it: immutable content-addressed files, a short max-age on the rest.
      const base = `${s3.endpoint}/${bucket}/app`;
      const ts = await fetch(`${base}/metadata/timestamp.json`);
      assert.equal(ts.status, 200, 'public-read: readable without credentials');
      assert.equal(ts.headers.get('cache-control'), 'public, max-age=60');
      const target = first.copied.find((r) => r.startsWith('targets/'));
      const t = await fetch(`${base}/${target}`);
      assert.equal(t.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      await t.arrayBuffer();
      await ts.arrayBuffer();

      await project.publish('1.1.0');
      const second = await publishCli(project.config.file, bucket, ['--cache-max-age', '30']);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /5 file\(s\) copied/);
      const ts2 = await fetch(`${base}/metadata/timestamp.json`);
      assert.equal(ts2.headers.get('cache-control'), 'public, max-age=30');
      await ts2.arrayBuffer();
    }),
);

test(
  'the client updates an installed app straight from the bucket by patches, and a cut download resumes with a Range request',
  { skip },
  () =>
    inProject(async (project, bucket, root) => {
      let proxy: CuttingProxy | undefined;
      try {
        for (const v of ['1.0.0', '1.1.0', '1.2.0']) {
          await project.publish(v);
          const r = await publishCli(project.config.file, bucket);
          assert.equal(r.code, 0, r.stderr);
        }
        proxy = await startCuttingProxy(s3.endpoint);
        const baseUrl = `${proxy.url}/${bucket}/app`;
        const installDir = join(root, 'apps', 'demo');
        const stateDir = join(root, 'state');
        await mkdir(dirname(installDir), { recursive: true });
        await installVersion(project, '1.0.0', installDir);
        const options = clientOptions(project, baseUrl, installDir, stateDir);

        const client = new Client(options);
        const update = await client.check();
        assert.equal(update.kind, 'patches');
        if (update.kind !== 'patches') return;
        const firstPatch = update.chain[0]!.target;
        proxy.cutNext(`.${firstPatch.path}`, Math.floor(firstPatch.length / 2));
        await assert.rejects(client.download(update), { name: 'TransportError' });
        const partials = (await readdir(join(stateDir, 'downloads'))).filter((n) => n.endsWith('.partial'));
        assert.equal(partials.length, 1, 'the bytes before the cut are kept');
        const keptBytes = (await stat(join(stateDir, 'downloads', partials[0]!))).size;
        assert.ok(keptBytes > 0, 'the bytes before the cut are kept');

        // The app starts again and updates itself; the download resumes where it was cut.
        const log = join(root, 'app.log');
        const settings = join(root, 'settings.json');
        await writeFile(settings, JSON.stringify({ log, client: options }));
        const run = await runApp(installDir, settings);
        assert.equal(run.code, 0, run.stderr);
        const lines = await waitFor('1.2.0 to run', async () => {
          const l = await readLog(log);
          return l.some((x) => x.startsWith('done 1.2.0') || x.startsWith('error')) ? l : undefined;
        });
        assert.ok(!lines.some((l) => l.startsWith('error')), lines.join('\n'));
        assert.deepEqual(await waitForResult(stateDir), {
          outcome: 'installed',
          version: '1.2.0',
          previousVersion: '1.0.0',
        });
        const patchRequests = proxy.log.filter((r) => r.path.endsWith(`.${firstPatch.path}`));
        assert.equal(patchRequests.length, 2, JSON.stringify(proxy.log));
        assert.match(patchRequests[1]!.range ?? '', /^bytes=\d+-$/);
        assert.equal(patchRequests[1]!.status, 206);
        assert.ok(!proxy.log.some((r) => r.path.endsWith('.tar.gz')), 'patches only, no full archive');
        assert.deepEqual(await hashFolderAsTar(installDir), project.releases[2]!.result.tar);
      } finally {
        await proxy?.close();
      }
    }),
);

/**
 * The version a client with 1.0.0 installed is offered by the bucket (over plain HTTP, no
 * credentials); with `download`, it also downloads and verifies the update's files.
 */
async function offeredFromBucket(
  project: Project,
  bucket: string,
  root: string,
  options: { download?: boolean } = {},
): Promise<string> {
  const dir = await mkdtemp(join(root, 'client-'));
  const installDir = join(dir, 'demo');
  await installVersion(project, '1.0.0', installDir);
  const client = new Client(
    clientOptions(project, `${s3.endpoint}/${bucket}/app`, installDir, join(dir, 'state')),
  );
  const update = await client.check();
  if (update.kind === 'none') return 'none';
  if (options.download === true) await client.download(update);
  return update.version;
}

function killedPublish(repo: string, bucket: string, afterFiles: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', TSX, CHILD, repo, s3.endpoint, bucket, String(afterFiles)],
      {
        env: { ...process.env, ...s3.env },
        stdio: 'ignore',
      },
    );
    child.on('error', reject);
    child.on('exit', (_code, signal) => resolve(signal));
  });
}

test(
  'a publish killed between uploads leaves a bucket that clients read as the old release, and the next publish completes it',
  { skip },
  () =>
    inProject(async (project, bucket, root) => {
      await project.publish('1.0.0');
      await project.publish('1.1.0');
      assert.equal((await publishCli(project.config.file, bucket)).code, 0);
      await project.publish('1.2.0');
      // 1.2.0 adds two targets, two versioned metadata files and timestamp.json: kill after each
      // of the first four uploads in turn; the next publish run resumes where the last one stopped.
      for (const afterFiles of [1, 1, 1, 1]) {
        assert.equal(await killedPublish(project.config.repository, bucket, afterFiles), 'SIGKILL');
        assert.equal(
          await offeredFromBucket(project, bucket, root, { download: true }),
          '1.1.0',
          'clients still see the old release, whole',
        );
      }
      const done = await publishCli(project.config.file, bucket);
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, /1 file\(s\) copied/, 'only timestamp.json was left to upload');
      assert.equal(await offeredFromBucket(project, bucket, root), '1.2.0');
    }),
);

test("a second publisher's newer upload is not overwritten by a stale copy of the project", { skip }, () =>
  inProject(async (project, bucket) => {
    await project.publish('1.0.0');
    assert.equal((await publishCli(project.config.file, bucket)).code, 0);
    const staleDir = `${project.dir}-stale`;
    await cp(project.dir, staleDir, { recursive: true });
    try {
      await project.publish('1.1.0');
      assert.equal((await publishCli(project.config.file, bucket)).code, 0);
      const before = await objects(bucket);
      const stale = await publishCli(join(staleDir, 'publisher', 'notsotuf.json'), bucket);
      assert.equal(stale.code, 2, stale.stdout + stale.stderr);
      assert.match(stale.stderr, /already has timestamp\.json version \d+ .*published from another copy/);
      assert.deepEqual(await objects(bucket), before, 'the bucket is unchanged');
    } finally {
      await rm(staleDir, { recursive: true, force: true });
    }
  }),
);

test(
  'release prune and a new release, then publish --delete removes the pruned files from the bucket only after the new timestamp',
  { skip },
  () =>
    inProject(async (project, bucket) => {
      for (const v of ['1.0.0', '1.1.0', '1.2.0']) await project.publish(v);
      assert.equal((await publishCli(project.config.file, bucket)).code, 0);
      const pruned = await cli(['release', 'prune', '--keep', '2', '--config', project.config.file]);
      assert.equal(pruned.code, 0, pruned.stderr);
      await project.publish('1.3.0');
      const dest = await s3Destination(
        { bucket, prefix: 'app' },
        { endpoint: s3.endpoint, env: s3.env, acl: 'public-read' },
      );
      const seen: string[] = [];
      const r = await publishTo(project.config.repository, dest, {
        deleteExtra: true,
        onFile: (rel, action) => void seen.push(`${action} ${rel}`),
      });
      assert.ok(r.deleted.includes('metadata/1.targets.json'), r.deleted.join(','));
      const ts = seen.indexOf('copied metadata/timestamp.json');
      const firstDelete = seen.findIndex((s) => s.startsWith('deleted '));
      assert.ok(ts !== -1 && firstDelete > ts, seen.join('\n'));
      const left = Object.keys(await objects(bucket));
      for (const d of r.deleted) assert.ok(!left.includes(`app/${d}`), d);
      assert.ok(left.includes('app/metadata/1.root.json'), 'roots are never deleted');
    }),
);

test(
  'wrong credentials, a missing bucket and an unreachable endpoint each give a clear error, without the secret, and upload nothing',
  { skip },
  () =>
    inProject(async (project, bucket) => {
      await project.publish('1.0.0');
      const wrong = await publishCli(project.config.file, bucket, [], {
        ...s3.env,
        AWS_SECRET_ACCESS_KEY: 'wrong-secret-value-123',
      });
      assert.equal(wrong.code, 2, wrong.stderr);
      assert.match(wrong.stderr, /refused the credentials.*AWS_ACCESS_KEY_ID/s);
      assert.ok(!`${wrong.stdout}${wrong.stderr}`.includes('wrong-secret-value-123'));
      assert.ok(!`${wrong.stdout}${wrong.stderr}`.includes(S3_SECRET_KEY));
      assert.deepEqual(await objects(bucket), {});

      const missing = await publishCli(project.config.file, 'no-such-bucket');
      assert.equal(missing.code, 2, missing.stderr);
      assert.match(missing.stderr, /bucket no-such-bucket does not exist/);

      const unreachable = await cli(
        [
          'publish',
          `s3://${bucket}/app`,
          '--endpoint',
          'http://127.0.0.1:9',
          '--config',
          project.config.file,
        ],
        { env: s3.env },
      );
      assert.equal(unreachable.code, 1, unreachable.stderr);
      assert.match(unreachable.stderr, /cannot reach http:\/\/127\.0\.0\.1:9 .*ECONNREFUSED/);
      assert.ok(!`${unreachable.stdout}${unreachable.stderr}`.includes(S3_SECRET_KEY));

      const bad = await cli(['publish', 's3://X/app', '--config', project.config.file], { env: s3.env });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /not a bucket name/);
      const folderWithS3Option = await cli([
        'publish',
        join(project.dir, 'out'),
        '--endpoint',
        s3.endpoint,
        '--config',
        project.config.file,
      ]);
      assert.equal(folderWithS3Option.code, 2);
      assert.match(folderWithS3Option.stderr, /only apply to s3:\/\/ destinations/);
      await assert.rejects(readdir(join(project.dir, 'out')), { code: 'ENOENT' });
    }),
);
