/**
 * The client-level test of one hostile patch (test/security/hostile-patch-*.test.ts): releases
 * 1.0.0 and 1.1.0 published with our publisher, then the 1.1.0 patch replaced by an attacker who
 * holds the targets key (so it is properly signed and TUF lets it through). The client must refuse
 * the patch, fall back to the full archive and install 1.1.0, leaving nothing half-written; and when
 * the full archive is unavailable too, fail cleanly with the app and its cached state unchanged.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readState } from '../../src/client/state.js';
import { stateLayout } from '../../src/client/state-layout.js';
import { applyPatch } from '../../src/diff/index.js';
import { DataError, TransportError } from '../../src/errors.js';
import { publisherTarPath } from '../../src/repo/release.js';
import type { Project } from './fixture.js';
import { exitedPid, makeProject, waitForResult } from './fixture.js';
import type { TestServer } from './test-server.js';
import { startTestServer } from './test-server.js';
import type { CustomEdit } from '../faults/compromised-targets.js';
import { compromisedTargets } from '../faults/compromised-targets.js';
import { cachedState, folderDigest, freshInstall, holdsVersion, releaseTar, unfinished } from './world.js';

export interface HostilePatchContext {
  /** The real uncompressed tars of 1.0.0 and 1.1.0 and the real 1.1.0 patch. */
  readonly oldTar: Buffer;
  readonly newTar: Buffer;
  readonly patch: Buffer;
}

export interface HostilePatch {
  /** The bytes the attacker publishes as demo-1.1.0.patch (signed). */
  readonly bytes: Buffer;
  /** An edit of the patch's signed custom metadata. */
  readonly edit?: CustomEdit;
  /** How the client gets to the full archive: the patch is refused when applied, or not planned at all. */
  readonly refusedAt: 'apply' | 'plan';
  /** The DataError code the patch engine refuses it with (given the signed digests), for 'apply'. */
  readonly code?: string;
}

export function hostilePatchTests(
  threat: string,
  make: (ctx: HostilePatchContext) => HostilePatch | Promise<HostilePatch>,
): void {
  describe(threat, () => suite(threat, make));
}

function suite(
  threat: string,
  make: (ctx: HostilePatchContext) => HostilePatch | Promise<HostilePatch>,
): void {
  let project: Project;
  let server: TestServer;
  let refusedAt: HostilePatch['refusedAt'];
  let hostile: HostilePatch;
  let ctx: HostilePatchContext;

  before(async () => {
    project = await makeProject();
    await project.publish('1.0.0');
    const r = await project.publish('1.1.0');
    const patchName = r.patch!.name;
    ctx = {
      oldTar: await readFile(publisherTarPath(project.config, 'demo', '1.0.0')),
      newTar: await readFile(publisherTarPath(project.config, 'demo', '1.1.0')),
      patch: await readFile(await storedTarget(project, patchName)),
    };
    hostile = await make(ctx);
    refusedAt = hostile.refusedAt;
    await compromisedTargets(project.config, {
      [patchName]: { bytes: hostile.bytes, ...(hostile.edit ? { edit: hostile.edit } : {}) },
    });
    server = await startTestServer({ root: project.config.repository });
  });

  after(async () => {
    await server?.close();
    await project?.cleanup();
  });

  test(`${threat}: the signed patch is refused, the client falls back to the full archive and installs 1.1.0`, async () => {
    const inst = await freshInstall(project, server.url, 'hostile-patch');
    try {
      const client = inst.client();
      const plan = await client.check();
      if (plan.kind === 'none') assert.fail('an update is offered');
      assert.equal(plan.kind, refusedAt === 'plan' ? 'full' : 'patches');
      const staged = await client.install(plan, { restart: false, pid: await exitedPid() });
      assert.equal(staged.via, 'full');
      assert.equal(staged.fellBack, refusedAt === 'apply');
      if (refusedAt === 'apply') {
        assert.deepEqual((await readState(stateLayout(inst.stateDir))).noPatchesTo, ['1.1.0']);
        assert.ok(server.log.some((r) => r.path.endsWith('.demo-1.1.0.patch')));
      }
      // Nothing half-written: no work files, no temp or partial files, only the verified cache.
      assert.deepEqual(await unfinished(inst.stateDir), []);
      assert.deepEqual(await readdir(join(inst.stateDir, 'tars')).then((n) => n.sort()), [
        ...(refusedAt === 'apply' ? ['1.0.0.tar'] : []),
        '1.1.0.tar',
      ]);
      assert.equal(
        (await cachedState(inst.stateDir)).get('tars/1.1.0.tar'),
        releaseTar(project, '1.1.0').sha256,
      );
      await staged.quitAndInstall();
      assert.equal((await waitForResult(inst.stateDir)).outcome, 'installed');
      assert.ok(await holdsVersion(project, inst.installDir, '1.1.0'));
    } finally {
      await inst.cleanup();
    }
  });

  // When the plan already refuses the patch (refusedAt 'plan'), this is defence in depth: applied
  // anyway against the real source, the engine must still refuse it (any DataError).
  test(`${threat}: the patch engine refuses it (for the stated reason where one is stated)`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'notsotuf-hostile-patch-'));
    try {
      await writeFile(join(dir, 'old.tar'), ctx.oldTar);
      await writeFile(join(dir, 'p.patch'), hostile.bytes);
      await assert.rejects(
        applyPatch(join(dir, 'old.tar'), join(dir, 'p.patch'), join(dir, 'new.tar'), {
          expectedSource: digestOf(ctx.oldTar),
          expectedResult: digestOf(ctx.newTar),
        }),
        (e) => {
          assert.ok(e instanceof DataError, String(e));
          if (hostile.code !== undefined) assert.equal(e.code, hostile.code, `${e.code}: ${e.message}`);
          return true;
        },
      );
      assert.deepEqual(await readdir(dir), ['old.tar', 'p.patch'], 'no output, no partial file');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test(`${threat}: with the full archive unavailable too, the install fails cleanly and the app is unchanged`, async () => {
    const inst = await freshInstall(project, server.url, 'hostile-patch-no-archive');
    try {
      const client = inst.client();
      const plan = await client.check();
      if (plan.kind === 'none') assert.fail('an update is offered');
      const appBefore = await folderDigest(inst.installDir);
      const metadataBefore = onlyMetadata(await cachedState(inst.stateDir));
      server.behave(/\.demo-1\.1\.0\.tar\.gz$/, { kind: 'status', status: 404 }, Infinity);
      await assert.rejects(client.install(plan, { restart: false, pid: await exitedPid() }), (e) => {
        assert.ok(e instanceof TransportError, String(e));
        assert.equal(e.code, 'HTTP_ERROR');
        return true;
      });
      assert.deepEqual(await folderDigest(inst.installDir), appBefore);
      const after = await cachedState(inst.stateDir);
      assert.deepEqual(onlyMetadata(after), metadataBefore, 'trusted metadata unchanged');
      // The only cached tar is the installed version's own (rebuilt from the folder, verified).
      for (const [k, v] of after) {
        if (k.startsWith('tars/')) {
          assert.equal(k, 'tars/1.0.0.tar');
          assert.equal(v, releaseTar(project, '1.0.0').sha256);
        }
      }
      assert.deepEqual(await unfinished(inst.stateDir), []);
      assert.deepEqual(await readdir(join(inst.installDir, '..')), ['demo'], 'no staging folder');
    } finally {
      server.clearBehaviours();
      await inst.cleanup();
    }
  });
}

function digestOf(b: Buffer): { sha256: string; length: number } {
  return { sha256: createHash('sha256').update(b).digest('hex'), length: b.length };
}

function onlyMetadata(state: Map<string, string>): Map<string, string> {
  return new Map([...state].filter(([k]) => k.startsWith('metadata/')));
}

/** The stored file of a target (`targets/<sha256>.<name>`); exactly one before any attack. */
async function storedTarget(project: Project, name: string): Promise<string> {
  const dir = join(project.config.repository, 'targets');
  const found = (await readdir(dir)).filter((n) => n.endsWith(`.${name}`));
  if (found.length !== 1) throw new Error(`expected one stored ${name}, found ${found.length}`);
  return join(dir, found[0]!);
}
