/**
 * A publisher process for the kill test: publishes REPO to s3://BUCKET at ENDPOINT and kills
 * itself with SIGKILL right after the Nth file is uploaded, the way a crash or a closed laptop
 * stops a publish between two uploads. Credentials come from the environment.
 * Usage: publish-s3-child.ts REPO ENDPOINT BUCKET N
 */
import { publishTo, s3Destination } from '../../src/repo/index.js';

const [repo, endpoint, bucket, n] = process.argv.slice(2);
if (repo === undefined || endpoint === undefined || bucket === undefined || n === undefined) {
  throw new Error('usage: publish-s3-child.ts REPO ENDPOINT BUCKET N');
}
let copied = 0;
const dest = await s3Destination({ bucket, prefix: 'app' }, { endpoint, acl: 'public-read' });
await publishTo(repo, dest, {
  onFile(_rel, action) {
    if (action === 'copied' && ++copied === Number(n)) process.kill(process.pid, 'SIGKILL');
  },
});
