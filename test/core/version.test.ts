import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelAccepts, compareVersions, parseVersion } from '../../src/core/version.js';
import { archiveName, parseTargetName, patchName } from '../../src/core/target-name.js';
import { UsageError } from '../../src/errors.js';

test('normalises semver spellings to PEP 440', () => {
  assert.equal(parseVersion('1.2.0-beta.1').text, '1.2.0b1');
  assert.equal(parseVersion('v1.2.0').text, '1.2.0');
  assert.equal(parseVersion('1.0-rc.2').text, '1.0rc2');
  assert.equal(parseVersion('2.0.0.dev3').channel, 'dev');
  assert.equal(parseVersion('1.3.0rc1').channel, 'rc');
  assert.equal(parseVersion('1.3.0a1').channel, 'alpha');
  assert.equal(parseVersion('1.3.0rc1.dev1').channel, 'dev');
  assert.equal(parseVersion('1.0.post1').channel, 'stable');
});

test('orders dev < pre < release < post', () => {
  const sorted = ['1.0.post1', '1.0', '1.0rc1', '1.0.dev1', '1.0a1', '1.0b2', '0.9'].sort(compareVersions);
  assert.deepEqual(sorted, ['0.9', '1.0.dev1', '1.0a1', '1.0b2', '1.0rc1', '1.0', '1.0.post1']);
});

test('refuses invalid versions with the rule in the message', () => {
  assert.throws(
    () => parseVersion('banana'),
    (e: unknown) => e instanceof UsageError && /PEP 440/.test(e.message),
  );
  assert.throws(() => parseVersion('1.0+local'), /local label/);
});

test('channels accept their own level and every more stable one', () => {
  assert.ok(channelAccepts('stable', 'stable'));
  assert.ok(!channelAccepts('stable', 'rc'));
  assert.ok(channelAccepts('beta', 'rc'));
  assert.ok(!channelAccepts('alpha', 'dev'));
});

test('target names round-trip, app names may contain dashes', () => {
  assert.equal(archiveName('myapp-win-x64', '1.2.0-beta.1'), 'myapp-win-x64-1.2.0b1.tar.gz');
  assert.deepEqual(parseTargetName('myapp-win-x64-1.2.0b1.tar.gz'), {
    kind: 'archive',
    app: 'myapp-win-x64',
    version: '1.2.0b1',
  });
  assert.deepEqual(parseTargetName(patchName('a_b', '2')), { kind: 'patch', app: 'a_b', version: '2' });
  assert.equal(parseTargetName('other.txt'), undefined);
  assert.equal(parseTargetName('app-1.2.0-beta.1.tar.gz'), undefined);
  assert.throws(() => archiveName('bad name', '1.0'), /not a valid app name/);
});
