/**
 * Malformed signed custom metadata: a targets key (compromised, or a broken publisher tool) signs a
 * `custom.notsotuf` object of the wrong shape. TUF verification passes (the signature is good), so
 * src/core/custom-metadata.ts is what stands in the way. Every case must be refused with a
 * DataError BAD_CUSTOM_METADATA that names the bad field, and a real client's check must fail with
 * the install folder and its cached tars unchanged (no half-understood release is ever acted on).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { NotsotufMeta } from '../../src/core/custom-metadata.js';
import { parseCustomMetadata } from '../../src/core/custom-metadata.js';
import { planUpdate } from '../../src/core/plan.js';
import type { PlanTargetInput } from '../../src/core/plan.js';
import type { Project } from '../support/fixture.js';
import { makeProject } from '../support/fixture.js';
import { toTrustedTarget } from '../../src/client/tuf/trusted-target.js';
import { loadForEdit } from '../../src/repo/repository-files.js';
import { compromisedTargets } from '../faults/compromised-targets.js';
import type { Install } from '../support/world.js';
import { cachedState, folderDigest, freshInstall } from '../support/world.js';
import type { TestServer } from '../support/test-server.js';
import { startTestServer } from '../support/test-server.js';

type Meta = Record<string, unknown>;

interface Case {
  readonly name: string;
  /** Which signed target is made malformed. */
  readonly on: 'archive' | 'patch';
  /** Changes the honest `custom.notsotuf` (a copy) into the malformed one. */
  readonly edit: (m: Meta) => unknown;
  /** What the error message must name. */
  readonly says: RegExp;
  /**
   * False for a fraction: TUF's canonical JSON has no fractions, so no signed targets.json can carry
   * one (the publisher's signing refuses it); only the plan-level check sees it.
   */
  readonly signable?: false;
}

const set =
  (path: string, value: unknown) =>
  (m: Meta): Meta => {
    const keys = path.split('.');
    let o = m;
    for (const k of keys.slice(0, -1)) o = o[k] as Meta;
    o[keys.at(-1)!] = value;
    return m;
  };
const drop =
  (path: string) =>
  (m: Meta): Meta => {
    const keys = path.split('.');
    let o = m;
    for (const k of keys.slice(0, -1)) o = o[k] as Meta;
    delete o[keys.at(-1)!];
    return m;
  };

const CASES: readonly Case[] = [
  { name: 'notsotuf is a string', on: 'archive', edit: () => 'archive', says: /notsotuf must be an object/ },
  { name: 'notsotuf is an array', on: 'archive', edit: () => [], says: /notsotuf must be an object/ },
  { name: 'notsotuf is null', on: 'archive', edit: () => null, says: /notsotuf must be an object/ },
  { name: 'app missing', on: 'archive', edit: drop('app'), says: /app must be a string/ },
  { name: 'app a number', on: 'archive', edit: set('app', 7), says: /app must be a string/ },
  { name: 'app not a valid name', on: 'archive', edit: set('app', '../demo'), says: /bad app name/ },
  { name: 'version missing', on: 'archive', edit: drop('version'), says: /version must be a string/ },
  {
    name: 'version a number',
    on: 'archive',
    edit: set('version', 1.1),
    says: /version must be a string/,
    signable: false,
  },
  {
    name: 'version not a version',
    on: 'archive',
    edit: set('version', 'banana'),
    says: /version "banana" is not a version/,
  },
  {
    name: 'kind unknown',
    on: 'archive',
    edit: set('kind', 'installer'),
    says: /kind must be "archive" or "patch"/,
  },
  { name: 'kind missing', on: 'archive', edit: drop('kind'), says: /kind must be "archive" or "patch"/ },
  { name: 'tar missing', on: 'archive', edit: drop('tar'), says: /tar must be an object/ },
  { name: 'tar a string', on: 'archive', edit: set('tar', 'abc'), says: /tar must be an object/ },
  {
    name: 'tar.sha256 missing',
    on: 'archive',
    edit: drop('tar.sha256'),
    says: /tar\.sha256 must be 64 hex digits/,
  },
  {
    name: 'tar.sha256 a number',
    on: 'archive',
    edit: set('tar.sha256', 12),
    says: /tar\.sha256 must be 64 hex digits/,
  },
  {
    name: 'tar.sha256 too short',
    on: 'archive',
    edit: set('tar.sha256', 'ab'.repeat(31)),
    says: /tar\.sha256 must be 64 hex digits/,
  },
  {
    name: 'tar.sha256 upper case',
    on: 'archive',
    edit: set('tar.sha256', 'AB'.repeat(32)),
    says: /tar\.sha256 must be 64 hex digits/,
  },
  {
    name: 'tar.sha256 with a suffix',
    on: 'archive',
    edit: set('tar.sha256', `${'ab'.repeat(32)}x`),
    says: /tar\.sha256 must be 64 hex digits/,
  },
  {
    name: 'tar.sha256 with a prefix',
    on: 'archive',
    edit: set('tar.sha256', `x${'ab'.repeat(32)}`),
    says: /tar\.sha256 must be 64 hex digits/,
  },
  {
    name: 'tar.length missing',
    on: 'archive',
    edit: drop('tar.length'),
    says: /tar\.length must be a non-negative integer/,
  },
  {
    name: 'tar.length negative',
    on: 'archive',
    edit: set('tar.length', -1),
    says: /tar\.length must be a non-negative integer/,
  },
  {
    name: 'tar.length huge',
    on: 'archive',
    edit: set('tar.length', 1e300),
    says: /tar\.length must be a non-negative integer/,
  },
  {
    name: 'tar.length above 2^53',
    on: 'archive',
    edit: set('tar.length', 2 ** 53),
    says: /tar\.length must be a non-negative integer/,
  },
  {
    name: 'tar.length a fraction',
    on: 'archive',
    edit: set('tar.length', 10.5),
    says: /tar\.length must be a non-negative integer/,
    signable: false,
  },
  {
    name: 'tar.length a string',
    on: 'archive',
    edit: set('tar.length', '1000'),
    says: /tar\.length must be a non-negative integer/,
  },
  {
    name: 'required a string',
    on: 'archive',
    edit: set('required', 'yes'),
    says: /required must be true or false/,
  },
  {
    name: 'rollout 0',
    on: 'archive',
    edit: set('rollout', 0),
    says: /rollout must be a percentage in \(0, 100\]/,
  },
  {
    name: 'rollout negative',
    on: 'archive',
    edit: set('rollout', -5),
    says: /rollout must be a percentage in \(0, 100\]/,
  },
  {
    name: 'rollout over 100',
    on: 'archive',
    edit: set('rollout', 100.5),
    says: /rollout must be a percentage in \(0, 100\]/,
    signable: false,
  },
  {
    name: 'rollout huge',
    on: 'archive',
    edit: set('rollout', 1e308),
    says: /rollout must be a percentage in \(0, 100\]/,
  },
  {
    name: 'rollout a string',
    on: 'archive',
    edit: set('rollout', '50'),
    says: /rollout must be a percentage in \(0, 100\]/,
  },
  { name: 'user an array', on: 'archive', edit: set('user', ['x']), says: /user must be an object/ },
  { name: 'user a string', on: 'archive', edit: set('user', 'notes'), says: /user must be an object/ },
  { name: 'patch format missing', on: 'patch', edit: drop('format'), says: /format must be a string/ },
  { name: 'patch format empty', on: 'patch', edit: set('format', ''), says: /format must be a string/ },
  { name: 'patch format a number', on: 'patch', edit: set('format', 2), says: /format must be a string/ },
  { name: 'patch source missing', on: 'patch', edit: drop('source'), says: /source must be an object/ },
  { name: 'patch source an array', on: 'patch', edit: set('source', []), says: /source must be an object/ },
  {
    name: 'patch source.version missing',
    on: 'patch',
    edit: drop('source.version'),
    says: /source\.version must be a string/,
  },
  {
    name: 'patch source.version not a version',
    on: 'patch',
    edit: set('source.version', 'old'),
    says: /source\.version "old" is not a version/,
  },
  {
    name: 'patch source.sha256 missing',
    on: 'patch',
    edit: drop('source.sha256'),
    says: /source\.sha256 must be 64 hex digits/,
  },
  {
    name: 'patch source.length negative',
    on: 'patch',
    edit: set('source.length', -100),
    says: /source\.length must be a non-negative integer/,
  },
  { name: 'patch result missing', on: 'patch', edit: drop('result'), says: /result must be an object/ },
  { name: 'patch result null', on: 'patch', edit: set('result', null), says: /result must be an object/ },
  {
    name: 'patch result.length huge',
    on: 'patch',
    edit: set('result.length', 1e16),
    says: /result\.length must be a non-negative integer/,
  },
  {
    name: 'patch result.sha256 a number',
    on: 'patch',
    edit: set('result.sha256', 0),
    says: /result\.sha256 must be 64 hex digits/,
  },
];

let project: Project;
let server: TestServer;
let inst: Install;
let archiveName = '';
let patchName = '';
/** The honest signed `custom.notsotuf` of 1.1.0's archive and patch. */
const honest = new Map<string, Meta>();
/** The honest signed target list, as the TUF layer hands it to the planner. */
let signedTargets: PlanTargetInput[] = [];

before(async () => {
  project = await makeProject();
  await project.publish('1.0.0');
  await project.publish('1.1.0');
  const latest = project.releases.at(-1)!;
  archiveName = latest.result.archive.name;
  assert.ok(latest.result.patch, '1.1.0 has a patch from 1.0.0');
  patchName = latest.result.patch.name;
  const signed = (await loadForEdit(project.config.repository, new Date())).targets.signed.targets;
  signedTargets = Object.values(signed).map(toTrustedTarget);
  for (const name of [archiveName, patchName]) {
    const custom = signed[name]?.unrecognizedFields.custom as { notsotuf?: Meta } | undefined;
    assert.ok(custom?.notsotuf, `${name} carries custom.notsotuf`);
    honest.set(name, structuredClone(custom.notsotuf));
  }
  server = await startTestServer({ root: project.config.repository });
  inst = await freshInstall(project, server.url, 'malformed-meta');
});

after(async () => {
  await inst.cleanup();
  await server.close();
  await project.cleanup();
});

function malformed(c: Case): { target: string; notsotuf: unknown } {
  const target = c.on === 'archive' ? archiveName : patchName;
  return { target, notsotuf: c.edit(structuredClone(honest.get(target)!)) };
}

function assertRefused(e: unknown, c: Case, target: string): true {
  const err = e as Error & { code?: string };
  assert.equal(err.name, 'DataError', err.message);
  assert.equal(err.code, 'BAD_CUSTOM_METADATA', err.message);
  assert.match(err.message, new RegExp(`target ${target.replaceAll('.', '\\.')}`), err.message);
  assert.match(err.message, c.says, `${c.name}: ${err.message}`);
  // Where another check found the problem (version, app name), its error is kept as the cause.
  if (/is not a version|bad app name/.test(err.message))
    assert.ok(err.cause instanceof Error, 'the cause is kept');
  return true;
}

test('defaults and edges that are valid: no required/rollout/user fields, a zero length', () => {
  const meta = structuredClone(honest.get(archiveName)!);
  delete meta.required;
  delete meta.rollout;
  delete meta.user;
  (meta.tar as Meta).length = 0;
  const parsed = parseCustomMetadata(archiveName, { notsotuf: meta });
  assert.ok(parsed?.kind === 'archive');
  assert.equal(parsed.required, false, 'a release is not required unless it says so');
  assert.equal(parsed.rollout, 100, 'a release is offered to every install unless it says otherwise');
  assert.deepEqual(parsed.user, {});
  assert.equal(parsed.tar.length, 0);
  assert.equal(parseCustomMetadata(archiveName, { notsotuf: { ...meta, rollout: 100 } })?.kind, 'archive');
  assert.equal(parseCustomMetadata(archiveName, { other: {} }), undefined, "another tool's target");
});

test('the honest metadata of the fixture parses (the table edits a valid object)', () => {
  for (const [target, meta] of honest) {
    const parsed = parseCustomMetadata(target, { notsotuf: meta });
    assert.deepEqual(parsed, meta as unknown as NotsotufMeta);
  }
});

for (const c of CASES) {
  test(`malformed signed metadata (${c.name}): the plan refuses it with a DataError naming the field`, () => {
    const { target, notsotuf } = malformed(c);
    assert.throws(
      () => parseCustomMetadata(target, { notsotuf }),
      (e) => assertRefused(e, c, target),
    );
    // The planner sees the whole signed list: one malformed target of this app stops the check.
    const bad = signedTargets.map((t) => (t.path === target ? { ...t, custom: { notsotuf } } : t));
    assert.throws(
      () =>
        planUpdate(bad, {
          app: project.config.app,
          currentVersion: '1.0.0',
          channel: 'stable',
          rolloutId: 0,
          sourceTarAvailable: true,
          patchFormats: [String(honest.get(patchName)!.format)],
        }),
      (e) => assertRefused(e, c, target),
    );
  });
}

test('every malformed case, signed into the served repository: the client refuses it, the install unchanged', async () => {
  const appBefore = await folderDigest(inst.installDir);
  // An honest check first: the client then trusts the repository before the bad listings (and keeps
  // the installed version's tar it packed while hashing the install folder).
  const first = await inst.client().check();
  assert.equal(first.kind === 'none' ? undefined : first.version, '1.1.0');
  const tarsBefore = [...(await cachedState(inst.stateDir)).entries()].filter(([k]) => k.startsWith('tars/'));
  const signable = CASES.filter((c) => c.signable !== false);
  assert.equal(signable.length, CASES.length - 3);
  for (const c of signable) {
    const { target, notsotuf } = malformed(c);
    // Only this case's target is malformed; the other one is signed as the publisher made it.
    const other = target === archiveName ? patchName : archiveName;
    await compromisedTargets(project.config, {
      [target]: { notsotuf },
      [other]: { notsotuf: honest.get(other) },
    });
    let error: unknown;
    try {
      await inst.client().check();
    } catch (e) {
      error = e;
    }
    assert.ok(error !== undefined, `${c.name}: the check should fail`);
    assertRefused(error, c, target);
    assert.deepEqual(await folderDigest(inst.installDir), appBefore, `${c.name}: the installed app changed`);
    const tarsAfter = [...(await cachedState(inst.stateDir)).entries()].filter(([k]) =>
      k.startsWith('tars/'),
    );
    assert.deepEqual(tarsAfter, tarsBefore, `${c.name}: the cached tars changed`);
  }
});
