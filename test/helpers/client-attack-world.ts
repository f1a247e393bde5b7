/**
 * The client-level half of the attack tests: a repository published with our own publisher (two
 * releases of a real app, real keys), served from memory by the TestServer so a test can replay
 * old files or tamper with new ones, and fresh installs of 1.0.0 whose folder and cached state are
 * compared byte for byte before and after the attack.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Metadata, MetadataKind } from '@tufjs/models';
import { loadSigner } from '../../src/repo/key-store.js';
import { exitedPid, makeProject, type Project } from '../support/fixture.js';
import { freshInstall, snapshot, type Install } from '../support/world.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

export interface ClientAttackWorld {
  readonly project: Project;
  readonly server: TestServer;
  /** The served files after 1.0.0 alone was published (for replays). */
  readonly old: Map<string, Uint8Array>;
  install(name: string, opts?: { modified?: boolean }): Promise<Install>;
  /** Serves the repository folder as it is now (after a publisher command changed it). */
  reload(): Promise<void>;
  close(): Promise<void>;
}

async function readTree(root: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) await walk(p);
      else out.set(`/${relative(root, p).split(sep).join('/')}`, await readFile(p));
    }
  };
  await walk(root);
  return out;
}

export async function clientAttackWorld(): Promise<ClientAttackWorld> {
  const project = await makeProject();
  await project.publish('1.0.0');
  const old = await readTree(project.config.repository);
  await project.publish('1.1.0');
  const server = await startTestServer({ files: await readTree(project.config.repository) });
  const installs: Install[] = [];
  return {
    project,
    server,
    old,
    install: async (name, opts = {}) => {
      const inst = await freshInstall(project, server.url, name, opts);
      installs.push(inst);
      return inst;
    },
    reload: async () => {
      const now = await readTree(project.config.repository);
      server.files.clear();
      for (const [k, v] of now) server.files.set(k, v);
    },
    close: async () => {
      await server.close();
      for (const i of installs) await i.cleanup();
      await project.cleanup();
    },
  };
}

/**
 * A first, honest check (the client then trusts the newest metadata; with `primeWith: 'previous'`,
 * the metadata of the release before, as if 1.1.0 were not published yet), then `attack()` changes
 * what the server sends, then a whole update (check, then install without restart) must fail with
 * `code`, and the install folder and the client's cached state (trusted metadata, cached tars)
 * must be byte for byte as they were before the attack. The server is reset afterwards.
 */
export async function updateRefused(
  world: ClientAttackWorld,
  inst: Install,
  code: string,
  attack: (server: TestServer) => void,
  primeWith: 'current' | 'previous' = 'current',
  /** Cached files that may legitimately move forward: metadata that verified before the refusal. */
  mayAdvance: readonly string[] = [],
): Promise<unknown> {
  try {
    if (primeWith === 'previous') {
      const current = new Map(world.server.files);
      world.server.files.clear();
      for (const [k, v] of world.old) world.server.files.set(k, v);
      try {
        await inst.client().check();
      } finally {
        world.server.files.clear();
        for (const [k, v] of current) world.server.files.set(k, v);
      }
    } else {
      await inst.client().check();
    }
    attack(world.server);
    return await refusedWithoutChange(inst, code, mayAdvance);
  } finally {
    world.server.clearBehaviours();
  }
}

async function refusedWithoutChange(
  inst: Install,
  code: string,
  mayAdvance: readonly string[],
): Promise<unknown> {
  const before = await snapshot(inst);
  let error: unknown;
  try {
    const client = inst.client();
    const update = await client.check();
    if (update.kind !== 'none') await client.install(update, { restart: false, pid: await exitedPid() });
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined, 'the update should have been refused');
  assert.equal((error as { code?: unknown }).code, code, String((error as Error).message));
  const after = await snapshot(inst);
  assert.deepEqual(after.app, before.app, 'the installed app changed');
  for (const name of mayAdvance) {
    after.state.delete(name);
    before.state.delete(name);
  }
  assert.deepEqual(after.state, before.state, 'the cached state changed');
  return error;
}

/**
 * The served timestamp.json with its signed part changed by `edit` (plain JSON) and re-signed by
 * the publisher's key named `signer` (`timestamp` for the real one; another role's key to forge).
 */
export async function resignedTimestamp(
  world: ClientAttackWorld,
  edit: (signed: Record<string, unknown>) => void,
  signer = 'timestamp',
): Promise<Buffer> {
  const json = JSON.parse(Buffer.from(world.server.files.get('/metadata/timestamp.json')!).toString()) as {
    signed: Record<string, unknown>;
  };
  edit(json.signed);
  const md = Metadata.fromJSON(MetadataKind.Timestamp, { ...json, signatures: [] } as Parameters<
    typeof Metadata.fromJSON
  >[1]);
  md.sign(await loadSigner(world.project.config.keys, signer), false);
  return Buffer.from(JSON.stringify(md.toJSON()));
}
