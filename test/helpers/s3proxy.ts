/**
 * A real S3-compatible server on 127.0.0.1: s3proxy (Apache-2.0, Maven Central
 * org.gaul:s3proxy:2.6.0, the jar-with-dependencies that .ci/run fetches with `mvn
 * dependency:get`) run by the machine's Java over a filesystem store in a temp folder. It speaks
 * the S3 API with signature v4, so the AWS SDK talks to it as to any S3 endpoint; objects uploaded
 * with the public-read ACL are readable without credentials, as from a public bucket or a CDN.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../support/test-server.js';

export const S3PROXY_VERSION = '2.6.0';
export const S3PROXY_JAR = join(
  process.env.M2_HOME_REPOSITORY ?? join(homedir(), '.m2', 'repository'),
  'org',
  'gaul',
  's3proxy',
  S3PROXY_VERSION,
  `s3proxy-${S3PROXY_VERSION}-jar-with-dependencies.jar`,
);

/** The credentials the test server accepts (not secrets: it only listens on 127.0.0.1). */
export const S3_ACCESS_KEY = 'notsotuf-test-access';
export const S3_SECRET_KEY = 'notsotuf-test-secret-0123456789';

/** Why s3proxy cannot run here, or undefined when it can. */
export function s3proxyMissing(): string | undefined {
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (java.error !== undefined || java.status !== 0) return 'java is not installed (.ci/run installs a JRE)';
  if (!existsSync(S3PROXY_JAR)) {
    return `${S3PROXY_JAR} is missing (.ci/run fetches it: mvn dependency:get -Dartifact=org.gaul:s3proxy:${S3PROXY_VERSION}:jar:jar-with-dependencies)`;
  }
  return undefined;
}

export interface S3Server {
  /** The S3 endpoint, e.g. http://127.0.0.1:PORT. */
  readonly endpoint: string;
  /** The environment a publisher needs for this server (credentials, no profile). */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const r = await fetch(endpoint, { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

export async function startS3Server(): Promise<S3Server> {
  const missing = s3proxyMissing();
  if (missing !== undefined) throw new Error(missing);
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-s3-'));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const conf = join(dir, 's3proxy.conf');
  await writeFile(
    conf,
    [
      `s3proxy.endpoint=${endpoint}`,
      's3proxy.authorization=aws-v2-or-v4',
      `s3proxy.identity=${S3_ACCESS_KEY}`,
      `s3proxy.credential=${S3_SECRET_KEY}`,
      'jclouds.provider=filesystem',
      `jclouds.filesystem.basedir=${join(dir, 'data')}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('java', ['-Xmx256m', '-jar', S3PROXY_JAR, '--properties', conf], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const deadline = Date.now() + 120_000; // the JVM starts slowly on a loaded machine
  while (!(await answers(endpoint))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`s3proxy did not start on ${endpoint}: ${stderr}`);
    }
    await sleep(200);
  }
  return {
    endpoint,
    env: {
      AWS_ACCESS_KEY_ID: S3_ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY,
      AWS_REGION: 'us-east-1',
      AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface ProxyLogEntry {
  readonly path: string;
  readonly range: string | undefined;
  readonly status: number;
}

/**
 * A forwarding HTTP proxy in front of an upstream (the S3 endpoint), standing for the network
 * between a client and the bucket: it passes requests and answers through and logs them, and
 * `cutNext` makes it drop the connection part way through the next answer for a path.
 */
export interface CuttingProxy {
  readonly url: string;
  readonly log: ProxyLogEntry[];
  cutNext(pathSuffix: string, afterBytes: number): void;
  close(): Promise<void>;
}

export async function startCuttingProxy(upstream: string): Promise<CuttingProxy> {
  const up = new URL(upstream);
  const log: ProxyLogEntry[] = [];
  const cuts: { suffix: string; after: number }[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const cutAt = cuts.findIndex((c) => path.endsWith(c.suffix));
    const cut = cutAt === -1 ? undefined : cuts.splice(cutAt, 1)[0];
    const headers = { ...req.headers, host: up.host };
    const forward = httpRequest(
      { host: up.hostname, port: up.port, method: req.method, path, headers },
      (answer: IncomingMessage) => {
        log.push({ path, range: req.headers.range, status: answer.statusCode ?? 0 });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (cut === undefined) {
          answer.pipe(res);
          return;
        }
        let sent = 0;
        answer.on('data', (chunk: Buffer) => {
          if (sent >= cut.after) return;
          const part = chunk.subarray(0, cut.after - sent);
          sent += part.length;
          if (sent < cut.after) {
            res.write(part);
            return;
          }
          // The bytes before the cut, then a pause, then the connection drops: a fetch body
          // that errors discards chunks its reader has not taken yet, so the pause lets the
          // client take (and keep) them first, as it would on a real network that stalls.
          answer.destroy();
          res.write(part, () => setTimeout(() => res.socket?.destroy(), 1000));
        });
      },
    );
    forward.on('error', () => res.socket?.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    cutNext(suffix, after) {
      cuts.push({ suffix, after });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
