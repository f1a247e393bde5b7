import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { ArchiveMeta, PatchMeta } from '../../src/core/custom-metadata.js';
import { toCustom } from '../../src/core/custom-metadata.js';
import type { PlanInput, PlanTargetInput, UpdatePlan } from '../../src/core/plan.js';
import {
  appReleases,
  chooseFirstInstall,
  planUpdate,
  releaseWithTar,
  targetSha256,
} from '../../src/core/plan.js';
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
  opts: {
    length?: number;
    format?: string;
    sourceSha?: string;
    sourceLength?: number;
    result?: { sha256: string; length: number };
  } = {},
): PlanTargetInput {
  const meta: PatchMeta = {
    kind: 'patch',
    app: 'app',
    version: to,
    format: opts.format ?? FORMAT,
    source: {
      version: from,
      ...tarOf(from),
      ...(opts.sourceSha ? { sha256: opts.sourceSha } : {}),
      ...(opts.sourceLength ? { length: opts.sourceLength } : {}),
    },
    result: opts.result ?? tarOf(to),
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

test('a patch whose signed source length does not match the installed tar means full', () => {
  const targets = [archive('1.0.0'), archive('1.1.0'), patch('1.0.0', '1.1.0', { sourceLength: 999 })];
  assert.equal(planUpdate(targets, base).kind, 'full');
});

test('a patch whose signed result is not the release tar (digest or length) means full', () => {
  for (const result of [
    { sha256: sha('another tar'), length: tarOf('1.1.0').length },
    { sha256: tarOf('1.1.0').sha256, length: tarOf('1.1.0').length + 1 },
  ]) {
    const targets = [archive('1.0.0'), archive('1.1.0'), patch('1.0.0', '1.1.0', { result })];
    const plan = planUpdate(targets, base);
    assert.equal(plan.kind, 'full', JSON.stringify(result));
    assert.equal(versionOf(plan), '1.1.0');
  }
});

test('a rollout id outside [0, 100) or not a number is refused (INVALID_ROLLOUT_ID)', () => {
  const targets = [archive('1.0.0'), archive('1.1.0')];
  for (const rolloutId of [-0.001, -1, 100, 100.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(
      () => planUpdate(targets, { ...base, rolloutId }),
      (e: Error & { code?: string }) => {
        assert.equal(e.name, 'UsageError');
        assert.equal(e.code, 'INVALID_ROLLOUT_ID');
        assert.match(e.message, /must be a number in \[0, 100\)/);
        return true;
      },
      String(rolloutId),
    );
  }
  assert.equal(versionOf(planUpdate(targets, { ...base, rolloutId: 99.999 })), '1.1.0');
});

test('a repository with no release of the app: APP_NOT_IN_REPOSITORY naming the apps it holds', () => {
  const check = (targets: PlanTargetInput[], holds: string): void => {
    assert.throws(
      () => planUpdate(targets, base),
      (e: Error & { code?: string }) => {
        assert.equal(e.name, 'UsageError');
        assert.equal(e.code, 'APP_NOT_IN_REPOSITORY');
        assert.equal(
          e.message,
          `the repository has no release of "app" (${holds}): check the app name (appName / --app-name) and the repository URL`,
        );
        return true;
      },
    );
  };
  check([], 'it holds no releases at all');
  // Patches alone are no release; names are sorted and listed once.
  check(
    [
      archive('1.0.0', { app: 'zeta' }),
      archive('1.1.0', { app: 'zeta' }),
      archive('2.0.0', { app: 'alpha' }),
      patch('1.0.0', '1.1.0'),
    ],
    'it holds: alpha, zeta',
  );
  // A repository with many apps: the message names the first 20 it meets, not all of them.
  const many = Array.from({ length: 30 }, (_, i) =>
    archive('1.0.0', { app: `app${String(i).padStart(2, '0')}` }),
  );
  const twenty = Array.from({ length: 20 }, (_, i) => `app${String(i).padStart(2, '0')}`);
  check(many, `it holds: ${twenty.join(', ')}`);
});

test("another app's targets do not count against maxTargets, and their metadata is not read", () => {
  // Another app's (or tool's) targets may carry custom metadata this client would refuse: they are
  // not this app's, so they neither break its update nor use up its share of the target limit.
  const junk = (path: string): PlanTargetInput => ({
    path,
    length: 1,
    hashes: { sha256: sha(path) },
    custom: { notsotuf: { kind: 'archive', app: 'nonsense' } },
  });
  const targets = [archive('1.0.0'), junk('other-1.0.0.tar.gz'), junk('README.md'), archive('1.1.0')];
  assert.equal(versionOf(planUpdate(targets, base)), '1.1.0');
  const crowd: PlanTargetInput[] = [archive('1.0.0')];
  for (let i = 0; i < CLIENT_LIMITS.maxTargets; i++) crowd.push(archive(`1.0.${i + 1}`, { app: 'other' }));
  crowd.push(archive('1.1.0'));
  assert.equal(versionOf(planUpdate(crowd, base)), '1.1.0');
});

test('a target whose signed metadata names another app or kind than its file name is ignored', () => {
  const otherApp = { ...archive('1.5.0', { app: 'other' }), path: 'app-1.5.0.tar.gz' };
  const patchAsArchive = { ...patch('1.1.0', '1.5.0'), path: 'app-1.5.0.tar.gz' };
  for (const liar of [otherApp, patchAsArchive]) {
    assert.equal(versionOf(planUpdate([archive('1.0.0'), archive('1.1.0'), liar], base)), '1.1.0');
  }
  // a patch file whose metadata says archive is not used as a patch: the update is full
  const archiveAsPatch = { ...archive('1.1.0'), path: 'app-1.1.0.patch' };
  const plan = planUpdate([archive('1.0.0'), archive('1.1.0'), archiveAsPatch], base);
  assert.equal(plan.kind, 'full');
  // nor as the archive: the archive is the target named as one
  assert.equal(plan.kind === 'full' && plan.archive.target.path, 'app-1.1.0.tar.gz');
});

test('a release not rolled out to this install does not hold back a later one (only a required one does)', () => {
  const targets = [archive('1.0.0'), archive('1.1.0', { rollout: 10 }), archive('1.2.0')];
  assert.equal(versionOf(planUpdate(targets, { ...base, rolloutId: 50 })), '1.2.0');
  // a required release whose rollout is exactly the install id does not include it: a ceiling
  const gated = [
    archive('1.0.0'),
    archive('1.1.0'),
    archive('1.2.0', { required: true, rollout: 50 }),
    archive('1.3.0'),
  ];
  assert.equal(versionOf(planUpdate(gated, { ...base, rolloutId: 50 })), '1.1.0');
  assert.equal(versionOf(planUpdate(gated, { ...base, rolloutId: 49.9 })), '1.2.0');
});

test('two required releases ahead: the install stops at the lower one', () => {
  const targets = [
    archive('1.0.0'),
    archive('1.1.0', { required: true }),
    archive('1.2.0', { required: true }),
    archive('1.3.0'),
  ];
  assert.equal(versionOf(planUpdate(targets, base)), '1.1.0');
  assert.equal(versionOf(planUpdate(targets, { ...base, currentVersion: '1.1.0' })), '1.2.0');
});

test('noPatchesTo and skipped versions match any spelling of the version', () => {
  assert.equal(planUpdate(linear, { ...base, noPatchesTo: ['v1.2.0'] }).kind, 'full');
  assert.equal(planUpdate(linear, { ...base, noPatchesTo: ['1.1.0'] }).kind, 'patches');
  assert.equal(versionOf(planUpdate(linear, { ...base, skippedVersions: ['01.2.0'] })), '1.1.0');
});

test('the current version in any spelling finds its release tar for patches', () => {
  const plan = planUpdate(linear, { ...base, currentVersion: 'v1.0.0' });
  assert.equal(plan.kind, 'patches');
  assert.equal(versionOf(plan), '1.2.0');
});

test('a full plan downloads the archive: its bytes are the archive length', () => {
  const plan = planUpdate([archive('1.0.0'), archive('1.1.0', { length: 777 })], base);
  assert.deepEqual(
    plan.kind === 'full' && {
      version: plan.version,
      bytes: plan.downloadBytes,
      path: plan.archive.target.path,
    },
    { version: '1.1.0', bytes: 777, path: 'app-1.1.0.tar.gz' },
  );
  assert.equal(plan.kind === 'full' && plan.release.version, '1.1.0');
});

test('first install: the newest release the channel accepts and the rollout includes; required is no stop', () => {
  const { archives } = appReleases(
    [
      // in no order: the newest is found by version, not by its place in the list
      archive('1.3.0', { rollout: 20 }),
      archive('1.2.0'),
      archive('1.4.0rc1'),
      archive('1.0.0'),
      archive('1.1.0', { required: true }),
      archive('0.9.0', { app: 'other' }),
    ],
    'app',
  );
  const first = (channel: PlanInput['channel'], rolloutId: number): string | undefined =>
    chooseFirstInstall(archives, { channel, rolloutId })?.meta.version;
  assert.equal(first('stable', 50), '1.2.0');
  assert.equal(first('stable', 20), '1.2.0');
  assert.equal(first('stable', 19.9), '1.3.0');
  assert.equal(first('rc', 50), '1.4.0rc1');
  const none = appReleases([archive('1.0.0', { rollout: 10 }), archive('1.1.0b1')], 'app').archives;
  assert.equal(chooseFirstInstall(none, { channel: 'stable', rolloutId: 50 }), undefined);
});

test('releaseWithTar: the release whose signed tar has this digest and length', () => {
  const { archives } = appReleases(linear, 'app');
  assert.equal(releaseWithTar(archives, tarOf('1.1.0'))?.meta.version, '1.1.0');
  assert.equal(releaseWithTar(archives, { ...tarOf('1.1.0'), length: 1001 }), undefined);
  assert.equal(releaseWithTar(archives, { sha256: sha('unknown'), length: 1000 }), undefined);
});

test('targetSha256: only a 64-digit lower-case hex sha256 counts', () => {
  const target = (sha256: unknown): PlanTargetInput => ({
    path: 'app-1.0.0.tar.gz',
    length: 1,
    hashes: { sha256: sha256 as string },
    custom: {},
  });
  const good = sha('x');
  assert.equal(targetSha256(target(good)), good);
  for (const bad of [
    `0${good}`,
    `${good}0`,
    good.slice(1),
    good.toUpperCase(),
    'g'.repeat(64),
    42,
    undefined,
  ]) {
    assert.equal(targetSha256(target(bad)), undefined, String(bad));
  }
});
