import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { ArchiveMeta, PatchMeta } from '../../src/core/custom-metadata.js';
import { toCustom } from '../../src/core/custom-metadata.js';
import type { PlanInput, PlanTargetInput, UpdatePlan } from '../../src/core/plan.js';
import { planUpdate } from '../../src/core/plan.js';
import { CLIENT_LIMITS } from '../../src/core/limits.js';

const FORMAT = 'notsotuf-diff-1';
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const tarOf = (v: string): { sha256: string; length: number } => ({ sha256: sha(`tar ${v}`), length: 1000 });

function archive(
  version: string,
  opts: Partial<Pick<ArchiveMeta, 'required' | 'rollout' | 'user'>> & { length?: number; app?: string } = {},
): PlanTargetInput {
  const app = opts.app ?? 'app';
  const meta: ArchiveMeta = {
    kind: 'archive',
    app,
    version,
    tar: tarOf(version),
    required: opts.required ?? false,
    rollout: opts.rollout ?? 100,
    user: opts.user ?? {},
  };
  return {
    path: `${app}-${version}.tar.gz`,
    length: opts.length ?? 500,
    hashes: { sha256: sha(`gz ${version}`) },
    custom: toCustom(meta),
  };
}

function patch(
  from: string,
  to: string,
  opts: { length?: number; format?: string; sourceSha?: string } = {},
): PlanTargetInput {
  const meta: PatchMeta = {
    kind: 'patch',
    app: 'app',
    version: to,
    format: opts.format ?? FORMAT,
    source: { version: from, ...tarOf(from), ...(opts.sourceSha ? { sha256: opts.sourceSha } : {}) },
    result: tarOf(to),
  };
  return {
    path: `app-${to}.patch`,
    length: opts.length ?? 50,
    hashes: { sha256: sha(`patch ${to}`) },
    custom: toCustom(meta),
  };
}

const base: PlanInput = {
  app: 'app',
  currentVersion: '1.0.0',
  channel: 'stable',
  rolloutId: 50,
  sourceTarAvailable: true,
  patchFormats: [FORMAT],
};

function versionOf(plan: UpdatePlan): string | undefined {
  return plan.kind === 'none' ? undefined : plan.version;
}

const linear = [
  archive('1.0.0'),
  archive('1.1.0'),
  patch('1.0.0', '1.1.0'),
  archive('1.2.0'),
  patch('1.1.0', '1.2.0'),
];

test('up to date: no release above the current version means none', () => {
  assert.deepEqual(planUpdate(linear, { ...base, currentVersion: '1.2.0' }), { kind: 'none' });
});

test('two releases ahead: patches 1.1 then 1.2, bytes are the patch sizes', () => {
  const plan = planUpdate(linear, base);
  assert.equal(plan.kind, 'patches');
  if (plan.kind !== 'patches') return;
  assert.equal(plan.version, '1.2.0');
  assert.deepEqual(
    plan.chain.map((s) => s.target.path),
    ['app-1.1.0.patch', 'app-1.2.0.patch'],
  );
  assert.equal(plan.downloadBytes, 100);
  assert.equal(plan.archive.target.path, 'app-1.2.0.tar.gz');
});

test('never a downgrade: an install newer than every release gets none', () => {
  assert.deepEqual(planUpdate(linear, { ...base, currentVersion: '2.0.0' }), { kind: 'none' });
});

test('other apps in the same repository are ignored', () => {
  const targets = [archive('1.0.0'), archive('9.0.0', { app: 'other' })];
  assert.deepEqual(planUpdate(targets, base), { kind: 'none' });
});

test('stable channel ignores pre-releases; dev releases are never stable', () => {
  const targets = [archive('1.0.0'), archive('1.1.0rc1'), archive('1.1.0.dev1'), archive('1.1.0b2')];
  assert.deepEqual(planUpdate(targets, base), { kind: 'none' });
  assert.equal(versionOf(planUpdate(targets, { ...base, channel: 'rc' })), '1.1.0rc1');
  assert.equal(versionOf(planUpdate(targets, { ...base, channel: 'beta' })), '1.1.0rc1');
  assert.equal(versionOf(planUpdate(targets, { ...base, channel: 'dev' })), '1.1.0rc1');
  const onlyDev = [archive('1.0.0'), archive('1.1.0.dev1')];
  assert.deepEqual(planUpdate(onlyDev, { ...base, channel: 'alpha' }), { kind: 'none' });
  assert.equal(versionOf(planUpdate(onlyDev, { ...base, channel: 'dev' })), '1.1.0.dev1');
});

test('a required release stops the chain there, and the next check goes on from it', () => {
  const targets = [
    archive('1.0.0'),
    archive('1.1.0', { required: true }),
    patch('1.0.0', '1.1.0'),
    archive('1.2.0'),
    patch('1.1.0', '1.2.0'),
  ];
  assert.equal(versionOf(planUpdate(targets, base)), '1.1.0');
  assert.equal(versionOf(planUpdate(targets, { ...base, currentVersion: '1.1.0' })), '1.2.0');
});

test('a required release not rolled out to this install yet is a ceiling, never skipped over', () => {
  const targets = [
    archive('1.0.0'),
    archive('1.1.0'),
    archive('1.2.0', { required: true, rollout: 10 }),
    archive('1.3.0'),
  ];
  assert.equal(versionOf(planUpdate(targets, { ...base, rolloutId: 50 })), '1.1.0');
  assert.equal(versionOf(planUpdate(targets, { ...base, rolloutId: 5 })), '1.2.0');
  assert.deepEqual(planUpdate(targets, { ...base, currentVersion: '1.1.0', rolloutId: 50 }), {
    kind: 'none',
  });
});

test('a required pre-release does not stop a stable install', () => {
  const targets = [archive('1.0.0'), archive('1.1.0b1', { required: true }), archive('1.2.0')];
  assert.equal(versionOf(planUpdate(targets, base)), '1.2.0');
});

test('rollout: offered when the install id is below the percentage', () => {
  const targets = [archive('1.0.0'), archive('1.1.0'), archive('1.2.0', { rollout: 30 })];
  assert.equal(versionOf(planUpdate(targets, { ...base, rolloutId: 29.9 })), '1.2.0');
  assert.equal(versionOf(planUpdate(targets, { ...base, rolloutId: 30 })), '1.1.0');
  assert.equal(versionOf(planUpdate(targets, { ...base, rolloutId: 0 })), '1.2.0');
  assert.throws(() => planUpdate(targets, { ...base, rolloutId: 100 }), { code: 'INVALID_ROLLOUT_ID' });
});

test('a rolled-back (skipped) version is not offered again; a later one is', () => {
  const targets = [archive('1.0.0'), archive('1.1.0')];
  assert.deepEqual(planUpdate(targets, { ...base, skippedVersions: ['1.1.0'] }), { kind: 'none' });
  const more = [...targets, archive('1.2.0')];
  assert.equal(versionOf(planUpdate(more, { ...base, skippedVersions: ['1.1'] })), '1.2.0');
});

test('patches whose total exceeds the full archive: full', () => {
  const targets = [
    archive('1.0.0'),
    archive('1.1.0'),
    patch('1.0.0', '1.1.0', { length: 300 }),
    archive('1.2.0', { length: 500 }),
    patch('1.1.0', '1.2.0', { length: 201 }),
  ];
  const plan = planUpdate(targets, base);
  assert.equal(plan.kind, 'full');
  if (plan.kind === 'full') assert.equal(plan.downloadBytes, 500);
  const equal = targets.map((t) =>
    t.path === 'app-1.2.0.patch' ? patch('1.1.0', '1.2.0', { length: 200 }) : t,
  );
  assert.equal(planUpdate(equal, base).kind, 'patches');
});

test('a missing patch link means full', () => {
  const targets = [archive('1.0.0'), archive('1.1.0'), archive('1.2.0'), patch('1.1.0', '1.2.0')];
  const plan = planUpdate(targets, base);
  assert.equal(plan.kind, 'full');
  if (plan.kind === 'full') assert.equal(plan.archive.target.path, 'app-1.2.0.tar.gz');
});

test('a patch whose signed source does not match the previous tar means full', () => {
  const targets = [
    archive('1.0.0'),
    archive('1.1.0'),
    patch('1.0.0', '1.1.0', { sourceSha: sha('something else') }),
  ];
  assert.equal(planUpdate(targets, base).kind, 'full');
});

test('an unknown patch format means full', () => {
  const targets = [archive('1.0.0'), archive('1.1.0'), patch('1.0.0', '1.1.0', { format: 'bsdiff-40' })];
  assert.equal(planUpdate(targets, base).kind, 'full');
});

test('a client that knows only format 1 takes the full archive for a format-2 patch; a newer client patches', () => {
  const targets = [
    archive('1.0.0'),
    archive('1.1.0'),
    archive('1.2.0'),
    patch('1.0.0', '1.1.0'),
    patch('1.1.0', '1.2.0', { format: 'notsotuf-diff-2' }),
  ];
  // An old client (format 1 only): one step of its chain is format 2, so the whole update is full.
  const old = planUpdate(targets, base);
  assert.equal(old.kind, 'full');
  assert.equal(versionOf(old), '1.2.0');
  // A client that reads both formats patches through both steps.
  const both = planUpdate(targets, { ...base, patchFormats: [FORMAT, 'notsotuf-diff-2'] });
  assert.equal(both.kind, 'patches');
  assert.equal(versionOf(both), '1.2.0');
});

test('no source tar (fresh install whose folder does not rebuild): full', () => {
  assert.equal(planUpdate(linear, { ...base, sourceTarAvailable: false }).kind, 'full');
});

test('current version not in the repository: no source digest to chain from, so full', () => {
  const targets = linear.filter((t) => t.path !== 'app-1.0.0.tar.gz');
  assert.equal(planUpdate(targets, base).kind, 'full');
});

test('a version whose patches failed before goes straight to full', () => {
  assert.equal(planUpdate(linear, { ...base, noPatchesTo: ['1.2.0'] }).kind, 'full');
});

test('a chain through a pre-release the channel does not offer still works', () => {
  const targets = [
    archive('1.0.0'),
    archive('1.1.0b1'),
    patch('1.0.0', '1.1.0b1'),
    archive('1.1.0'),
    patch('1.1.0b1', '1.1.0'),
  ];
  const plan = planUpdate(targets, base);
  assert.equal(plan.kind, 'patches');
  if (plan.kind === 'patches') assert.equal(plan.chain.length, 2);
});

test('a target whose signed metadata names another version than its file name is ignored', () => {
  const liar = { ...archive('9.0.0'), path: 'app-1.5.0.tar.gz' };
  assert.equal(versionOf(planUpdate([archive('1.0.0'), archive('1.1.0'), liar], base)), '1.1.0');
});

test('the release metadata (user fields) is handed to the app', () => {
  const targets = [archive('1.0.0'), archive('1.1.0', { user: { changelog: 'fixes' } })];
  const plan = planUpdate(targets, base);
  assert.notEqual(plan.kind, 'none');
  if (plan.kind !== 'none') assert.deepEqual(plan.release.user, { changelog: 'fixes' });
});

test('malformed signed custom metadata is refused with a DataError', () => {
  const bad = {
    ...archive('1.1.0'),
    custom: { notsotuf: { kind: 'archive', app: 'app', version: '1.1.0' } },
  };
  assert.throws(() => planUpdate([archive('1.0.0'), bad], base), { name: 'DataError' });
});

test('a patch chain must step strictly down: a signed detour through a higher version means full', () => {
  // 1.0.0 -> 3.0.0 -> 2.0.0: each link's digests chain, but the walk down from 2.0.0 would go up to
  // 3.0.0 first. A signed repository that does this is hostile or broken: take the full archive.
  const targets = [
    archive('1.0.0'),
    archive('2.0.0', { length: 100_000 }),
    patch('3.0.0', '2.0.0'),
    patch('1.0.0', '3.0.0'),
  ];
  const plan = planUpdate(targets, base);
  assert.equal(plan.kind, 'full');
  assert.equal(versionOf(plan), '2.0.0');
});

test('a patch chain that loops between two versions ends (full), it does not spin', () => {
  const targets = [archive('1.0.0'), archive('2.0.0'), patch('3.0.0', '2.0.0'), patch('2.0.0', '3.0.0')];
  assert.equal(planUpdate(targets, base).kind, 'full');
});

test('CLIENT_LIMITS.maxPatchChainSteps: a chain of exactly the limit is used, one step more means full', () => {
  const steps = CLIENT_LIMITS.maxPatchChainSteps;
  assert.equal(steps, 64);
  const chainOf = (n: number): PlanTargetInput[] => {
    const versions = Array.from({ length: n + 1 }, (_, i) => `1.0.${i}`);
    return [
      ...versions.map((v) => archive(v, { length: 1_000_000 })),
      ...versions.slice(1).map((v, i) => patch(versions[i]!, v, { length: 10 })),
    ];
  };
  const atLimit = planUpdate(chainOf(steps), { ...base, currentVersion: '1.0.0' });
  assert.equal(atLimit.kind, 'patches');
  if (atLimit.kind === 'patches') {
    assert.equal(atLimit.chain.length, steps);
    assert.equal(atLimit.version, `1.0.${steps}`);
  }
  const over = planUpdate(chainOf(steps + 1), { ...base, currentVersion: '1.0.0' });
  assert.equal(over.kind, 'full');
  assert.equal(versionOf(over), `1.0.${steps + 1}`);
});

test('CLIENT_LIMITS.maxTargets: targets of the app past the limit are not looked at', () => {
  // Building 100 000 targets is cheap here (plain objects); the newest one sits past the limit.
  const many: PlanTargetInput[] = [archive('1.0.0')];
  for (let i = 1; i < CLIENT_LIMITS.maxTargets; i++) many.push(archive(`1.1.${i}`));
  assert.equal(many.length, CLIENT_LIMITS.maxTargets);
  assert.equal(versionOf(planUpdate(many, base)), `1.1.${CLIENT_LIMITS.maxTargets - 1}`);
  const past = [...many, archive('9.0.0')];
  assert.equal(versionOf(planUpdate(past, base)), `1.1.${CLIENT_LIMITS.maxTargets - 1}`);
});
