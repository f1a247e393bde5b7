import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Release } from '../../src/repo/index.js';
import { initRepository } from '../../src/repo/index.js';
import { patchChainProblems } from '../../src/repo/verify.js';
import { tempDir } from './publisher-fixture.js';

const digest = (c: string, length = 1024): { sha256: string; length: number } => ({
  sha256: c.repeat(64),
  length,
});

function release(
  version: string,
  tar: string,
  patchFrom?: { version: string; tar: string },
  result = tar,
): Release {
  const meta = {
    kind: 'archive',
    app: 'demo',
    version,
    tar: digest(tar),
    required: false,
    rollout: 100,
    user: {},
  } as const;
  return {
    app: 'demo',
    version,
    archive: `demo-${version}.tar.gz`,
    archiveLength: 10,
    archiveSha256: 'f'.repeat(64),
    meta,
    ...(patchFrom === undefined
      ? {}
      : {
          patch: {
            name: `demo-${version}.patch`,
            length: 5,
            sha256: 'e'.repeat(64),
            meta: {
              kind: 'patch',
              app: 'demo',
              version,
              format: 'notsotuf-diff-1',
              source: { ...digest(patchFrom.tar), version: patchFrom.version },
              result: digest(result),
            },
          },
        }),
  };
}

test('a consistent patch chain has no problems', () => {
  assert.deepEqual(
    patchChainProblems([release('1.0.0', 'a'), release('1.1.0', 'b', { version: '1.0.0', tar: 'a' })]),
    [],
  );
});

test('a patch from a tar that is not the previous release, or to the wrong tar, is reported', () => {
  const wrongSource = patchChainProblems([
    release('1.0.0', 'a'),
    release('1.1.0', 'b', { version: '1.0.0', tar: 'c' }),
  ]);
  assert.match(wrongSource[0]?.message ?? '', /starts from a tar that is not the signed tar of demo 1\.0\.0/);
  const wrongResult = patchChainProblems([
    release('1.0.0', 'a'),
    release('1.1.0', 'b', { version: '1.0.0', tar: 'a' }, 'd'),
  ]);
  assert.match(wrongResult[0]?.message ?? '', /does not produce the signed tar of demo 1\.1\.0/);
  const skipping = patchChainProblems([
    release('1.0.0', 'a'),
    release('1.1.0', 'b'),
    release('1.2.0', 'c', { version: '1.0.0', tar: 'a' }),
  ]);
  assert.match(skipping[0]?.message ?? '', /not from the release just before it/);
  const orphan = patchChainProblems([release('1.2.0', 'c', { version: '1.1.0', tar: 'b' })]);
  assert.match(orphan[0]?.message ?? '', /starts from 1\.1\.0, which is not a release/);
});

test('init refuses a key folder inside the repository folder (private keys would be published)', async () => {
  const dir = await tempDir();
  await assert.rejects(initRepository(dir, { app: 'demo', keys: 'repository/keys' }), {
    code: 'KEYS_IN_REPOSITORY',
  });
  await assert.rejects(initRepository(dir, { app: 'demo', keys: 'repository' }), {
    code: 'KEYS_IN_REPOSITORY',
  });
});
