import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../support/test-server.js';

/**
 * nginx as a second real HTTP server in front of test repositories: started as a child process
 * (`daemon off`) with a temp config, root at the repository, listening on 127.0.0.1 on a free
 * port, with its pid, logs and temp paths in a temp folder that `stop()` removes. nginx answers
 * Range requests by itself. CI installs it (.ci/run); locally, tests skip with `nginxMissing()`.
 */

const CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx', '/opt/homebrew/bin/nginx'];

export function findNginx(): string | undefined {
  for (const c of CANDIDATES) if (existsSync(c)) return c;
  const r = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p !== '' ? p : undefined;
}

/** The reason to skip nginx tests, or undefined when nginx is there. */
export function nginxMissing(): string | undefined {
  return findNginx() === undefined
    ? 'nginx is not installed (CI installs it through .ci/run; locally: apt-get install nginx)'
    : undefined;
}

export interface Nginx {
  readonly url: string;
  /** The access log lines so far (`$request "$http_range" $status $body_bytes_sent`). */
  accessLog(): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startNginx(root: string): Promise<Nginx> {
  const binary = findNginx();
  if (binary === undefined) throw new Error(nginxMissing());
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-nginx-'));
  const access = join(dir, 'access.log');
  // A free port can be taken between probing and nginx's bind: retry a few times.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} info;
events { worker_connections 64; }
http {
  log_format range '$request "$http_range" $status $body_bytes_sent';
  access_log ${access} range;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  types { application/json json; application/octet-stream gz patch; }
  default_type application/octet-stream;
  sendfile on;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { try_files $uri =404; }
  }
}
`;
    const confPath = join(dir, 'nginx.conf');
    await writeFile(confPath, conf);
    const child: ChildProcess = spawn(binary, ['-c', confPath, '-p', dir, '-e', join(dir, 'error.log')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const url = `http://127.0.0.1:${port}`;
    let up = false;
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      try {
        await fetch(`${url}/`, { method: 'HEAD' });
        up = true;
        break;
      } catch {
        await sleep(50);
      }
    }
    if (!up) {
      child.kill('SIGKILL');
      await exited;
      if (stderr.includes('Address already in use')) continue;
      await rm(dir, { recursive: true, force: true });
      throw new Error(`nginx did not start: ${stderr}`);
    }
    return {
      url,
      accessLog: async () => {
        try {
          return (await readFile(access, 'utf8')).split('\n').filter((l) => l !== '');
        } catch {
          return [];
        }
      },
      stop: async () => {
        if (child.exitCode === null) {
          child.kill('SIGQUIT');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error('nginx could not bind a free port');
}
