/**
 * Fault: the update server answers 404 or 500, closes the connection half way, or stalls, for each
 * file of an update (the next root, timestamp, snapshot, targets, patch, archive). The client must
 * fail with one of our error classes and a stable code, leave the installed app and its cached
 * state as they were, leave nothing under a final name that did not verify, and the next run must
 * succeed (resuming a partial download with a Range request where there is one).
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { NotsotufError, TransportError } from '../../src/errors.js';
import { refreshRepository } from '../../src/repo/refresh.js';
import { exitedPid, waitForResult } from '../support/fixture.js';
import type { Behaviour, PathMatch } from '../support/test-server.js';
import { matchesPath } from '../support/test-server.js';
import { cachedState, folderDigest, holdsVersion, servedProject, unfinished } from '../support/world.js';

const served = servedProject(['1.0.0', '1.1.0'], async (project) => {
  // A new root version (same keys), so a client holding 1.root.json fetches 2.root.json.
  await refreshRepository(project.config, { force: ['root'] });
});

interface FileCase {
  readonly file: string;
  readonly match: PathMatch;
  /** The plan the client makes: patches need the unmodified install, the archive a modified one. */
  readonly via: 'patches' | 'full';
  readonly metadata: boolean;
}

const FILES: FileCase[] = [
  // The next root (2.root.json): a 404 there is the normal end of the root chain, not a fault.
  { file: 'root', match: '/metadata/2.root.json', via: 'patches', metadata: true },
  { file: 'timestamp', match: '/metadata/timestamp.json', via: 'patches', metadata: true },
  { file: 'snapshot', match: /^\/metadata\/\d+\.snapshot\.json$/, via: 'patches', metadata: true },
  { file: 'targets', match: /^\/metadata\/\d+\.targets\.json$/, via: 'patches', metadata: true },
  { file: 'patch', match: /\.patch$/, via: 'patches', metadata: false },
  { file: 'archive', match: /\.tar\.gz$/, via: 'full', metadata: false },
];

const FAULTS: { name: string; fault: Behaviour; code: string }[] = [
  { name: '404', fault: { kind: 'status', status: 404 }, code: 'HTTP_ERROR' },
  { name: '500', fault: { kind: 'status', status: 500 }, code: 'HTTP_ERROR' },
  { name: 'connection closed half way', fault: { kind: 'cut', fraction: 0.5 }, code: 'NETWORK' },
  { name: 'stall half way (timeout)', fault: { kind: 'stall', fraction: 0.5 }, code: 'STALLED' },
];

for (const f of FILES) {
  for (const { name, fault, code } of FAULTS) {
    if (f.file === 'root' && name === '404') continue;
    test(`server fault on the ${f.file}: ${name} -> ${code}, app intact, the next run succeeds`, async () => {
      const inst = await served.install(`fault-${f.file}`, {
        modified: f.via === 'full',
      });
      try {
        const appBefore = await folderDigest(inst.installDir);
        const from = served.server.log.length;
        served.server.behave(f.match, fault, 1);

        // First run: the fault.
        // Only the client that meets the stall gets a short timeout; honest runs keep the default.
        const first = inst.client(fault.kind === 'stall' ? { stallTimeoutMs: 1500 } : {});
        let error: unknown;
        let stateBefore: Map<string, string> | undefined;
        try {
          const update = await first.check();
          assert.equal(update.kind, f.via);
          stateBefore = await cachedState(inst.stateDir);
          await first.install(update, { restart: false, pid: await exitedPid() });
          assert.fail('the install should have failed');
        } catch (e) {
          error = e;
        }
        served.server.clearBehaviours();
        assert.ok(
          served.server.log.slice(from).some((r) => r.behaviour !== undefined),
          'the fault was served',
        );
        assert.ok(error instanceof NotsotufError, `our error class, got ${String(error)}`);
        assert.ok(error instanceof TransportError, `a TransportError, got ${error.name} ${error.code}`);
        assert.equal(error.code, code, error.message);
        assert.deepEqual(await folderDigest(inst.installDir), appBefore, 'the app folder is unchanged');
        assert.deepEqual(await siblings(inst.installDir), ['demo'], 'no staging folder beside the app');
        if (f.file === 'root') {
          // The client still trusts the root it shipped with.
          assert.deepEqual(
            await readFile(join(inst.stateDir, 'metadata', 'root.json')),
            await readFile(join(served.project.config.repository, 'metadata', '1.root.json')),
          );
        } else if (f.metadata) {
          // The refused role was never stored (TUF stores a role only once it verifies).
          const trusted = await readdir(join(inst.stateDir, 'metadata'));
          assert.ok(!trusted.includes(`${f.file}.json`), `${f.file}.json not stored: ${trusted.join(',')}`);
        } else {
          // Only a resumable .partial; no file under its final name, no work or staging.
          const left = await unfinished(inst.stateDir);
          assert.ok(
            left.every((p) => p.startsWith('downloads/') && p.endsWith('.partial')),
            left.join(', '),
          );
          const finals = (await readdir(join(inst.stateDir, 'downloads'))).filter(
            (n) => !n.endsWith('.partial'),
          );
          assert.deepEqual(finals, []);
          assert.deepEqual(
            await cachedState(inst.stateDir),
            stateBefore,
            'trusted metadata and tars unchanged',
          );
        }

        if (fault.kind === 'cut' && !f.metadata) {
          // A retry by the same Client resumes the kept .partial file with a Range request.
          const mark = served.server.log.length;
          const update = await first.check();
          // The cut left the update offered (nothing was installed): it must be found again.
          assert.ok(update.kind !== 'none', 'the update is still offered after the cut');
          await first.download(update);
          const resumed = served.server.log
            .slice(mark)
            .filter((r) => matchesPath(f.match, r.path) && r.range !== undefined);
          assert.equal(resumed.length, 1, 'the partial download was resumed with a Range request');
          assert.equal(resumed[0]!.status, 206);
        }

        // Second run, a new Client (a new start of the app): it resumes or starts over, and installs.
        const second = inst.client();
        const update = await second.check();
        assert.equal(update.kind, f.via);
        const staged = await second.install(update, { restart: false, pid: await exitedPid() });
        assert.equal(staged.via, f.via);
        assert.ok(await holdsVersion(served.project, `${inst.installDir}.notsotuf-staging-1.1.0`, '1.1.0'));
        if (name === '404') {
          // The swap itself is the same whatever the fault was: run it once per file.
          await staged.quitAndInstall();
          assert.equal((await waitForResult(inst.stateDir)).outcome, 'installed');
          assert.ok(await holdsVersion(served.project, inst.installDir, '1.1.0'), 'the app is now 1.1.0');
          assert.deepEqual(await unfinished(inst.root), []);
        }
      } finally {
        served.server.clearBehaviours();
        await inst.cleanup();
      }
    });
  }
}

async function siblings(installDir: string): Promise<string[]> {
  return (await readdir(join(installDir, '..'))).sort();
}
