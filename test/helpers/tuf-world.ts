/**
 * A client-side TUF test world: a TestRepo served by a TestServer on 127.0.0.1, a temp folder
 * with the client's trusted metadata, and a TufClient factory. Dispose it with `await using`.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFetcher, type FetcherOptions } from '../../src/client/fetcher.js';
import { TufClient, type TufClientOptions } from '../../src/client/tuf/index.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { TestRepo } from './tuf-repo.js';

export interface TufWorld {
  repo: TestRepo;
  server: TestServer;
  dir: string;
  metadataDir: string;
  client(options?: Omit<Partial<TufClientOptions>, 'fetcher'> & { fetcher?: FetcherOptions }): TufClient;
  /** Every file of the trusted metadata folder, name -> bytes (to compare before/after). */
  trusted(): Promise<Map<string, Buffer>>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function tufWorld(repo: TestRepo = TestRepo.create()): Promise<TufWorld> {
  const server = await startTestServer({ files: repo.files });
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-sec-'));
  const metadataDir = join(dir, 'metadata');
  await TufClient.initialize(metadataDir, repo.trustedRoot);
  return {
    repo,
    server,
    dir,
    metadataDir,
    client: (options = {}) => {
      const { fetcher, ...rest } = options;
      return new TufClient({
        metadataDir,
        metadataUrl: `${server.url}/metadata`,
        targetsUrl: `${server.url}/targets`,
        ...rest,
        fetcher: createFetcher({ stallTimeoutMs: 2000, timeoutMs: 10_000, ...fetcher }),
      });
    },
    trusted: async () => {
      const out = new Map<string, Buffer>();
      for (const name of (await readdir(metadataDir)).sort())
        out.set(name, await readFile(join(metadataDir, name)));
      return out;
    },
    [Symbol.asyncDispose]: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** An error matcher for assert.rejects: class and code. */
export function refused(
  cls: abstract new (...args: never[]) => Error,
  code: string,
): (e: unknown) => boolean {
  return (e) => {
    if (e instanceof cls && (e as { code?: unknown }).code === code) return true;
    throw new Error(
      `expected ${cls.name} ${code}, got ${String((e as Error)?.name)} ${String((e as { code?: unknown })?.code)}: ${String((e as Error)?.message)}`,
    );
  };
}
