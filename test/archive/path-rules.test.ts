/**
 * The path rules pack and unpack share (src/archive/path-rules.ts), as plain functions over the
 * names and symlink targets an archive may hold: each rule on the inputs that only it catches.
 * Written from the survivors of the mutation run of path-rules.ts (docs/security.md); the archive
 * level tests are test/security/hostile-archive-*.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  caseFoldKey,
  isAbsoluteTarget,
  pathProblem,
  symlinkEscape,
  windowsPathProblem,
} from '../../src/archive/path-rules.js';
import type { LinkEntry } from '../../src/archive/path-rules.js';

const tree = (entries: Record<string, string>): Map<string, LinkEntry> =>
  new Map(
    Object.entries(entries).map(([path, v]) => [
      path,
      v === 'dir' || v === 'file' ? { type: v } : { type: 'symlink', linkTarget: v },
    ]),
  );

test('pathProblem: empty, NUL and empty or "." segments, each with its own rule', () => {
  assert.deepEqual(pathProblem(''), { code: 'ARCHIVE_BAD_PATH', rule: 'an entry path must not be empty' });
  assert.deepEqual(pathProblem('a\0b'), {
    code: 'ARCHIVE_BAD_PATH',
    rule: 'an entry path must not contain NUL',
  });
  for (const p of ['a//b', 'a/./b', 'a/', '.']) {
    assert.deepEqual(
      pathProblem(p),
      { code: 'ARCHIVE_BAD_PATH', rule: 'entry paths must not contain empty or "." segments' },
      p,
    );
  }
  for (const p of ['a', 'a/b.c/d', '.hidden', 'a..b', '...']) assert.equal(pathProblem(p), undefined, p);
});

test('isAbsoluteTarget: "/", a leading backslash (UNC) and drive letters, nothing else', () => {
  for (const t of ['/etc', '\\\\server\\share', '\\x', 'C:x', 'c:/x'])
    assert.equal(isAbsoluteTarget(t), true, t);
  for (const t of ['a', 'a\\', 'a/b', '../x', 'ab:c']) assert.equal(isAbsoluteTarget(t), false, t);
});

test('caseFoldKey: case, NFC and trailing dots and spaces per segment; nothing more', () => {
  assert.equal(caseFoldKey('Lib. ./README'), caseFoldKey('lib/readme'));
  assert.equal(caseFoldKey('Cafe\u0301'), caseFoldKey('café'));
  // different files everywhere: not merged
  for (const [a, b] of [
    ['a.b', 'ab'],
    ['a b', 'ab'],
    ['a/bc', 'ab/c'],
    ['straße', 'STRASSE'], // Windows and macOS keep "ß" and "ss" apart
  ] as const) {
    assert.notEqual(caseFoldKey(a), caseFoldKey(b), `${a} / ${b}`);
  }
  assert.equal(caseFoldKey('A/B'), 'a/b');
});

test('windowsPathProblem: a device name with several trailing dots or spaces is still a device', () => {
  for (const p of ['CON. .', 'dir/nul ..', 'LPT1.txt', 'com\u00b9']) {
    assert.equal(windowsPathProblem(p), `"${p.split('/').at(-1)}" names a device on Windows`, p);
  }
  assert.equal(windowsPathProblem('console/connect.txt'), undefined);
});

test('symlinkEscape: a backslash in the target, or in a symlink on the way, is refused', () => {
  assert.equal(symlinkEscape(tree({}), 'l', 'a\\..\\..\\x'), 'its target contains "\\"');
  const t = tree({ abs: '/etc', back: 'a\\b', d: 'dir' });
  assert.equal(symlinkEscape(t, 'l', 'abs/passwd'), 'its target goes through an absolute symlink');
  assert.equal(symlinkEscape(t, 'l', 'back/x'), 'its target goes through an absolute symlink');
  assert.equal(symlinkEscape(t, 'd/l', '../abs'), 'its target goes through an absolute symlink');
});

test('symlinkEscape: "." and empty parts do not count as folders to climb out of', () => {
  assert.equal(symlinkEscape(tree({}), 'l', './..'), 'its target leaves the folder');
  assert.equal(symlinkEscape(tree({}), 'l', 'a//../..'), 'its target leaves the folder');
  assert.equal(symlinkEscape(tree({ d: 'dir' }), 'd/l', './../x'), undefined);
  assert.equal(symlinkEscape(tree({ d: 'dir', f: 'file' }), 'd/l', '../f'), undefined, '".." inside is fine');
});

test('symlinkEscape: a nested symlink on the way is found by its full path', () => {
  // d/x -> ../.. climbs out from d: l -> d/x/y leaves, which only resolving d/x shows.
  const t = tree({ d: 'dir', 'd/x': '../..', dx: 'dir' });
  assert.equal(symlinkEscape(t, 'l', 'd/x/y'), 'its target leaves the folder');
  assert.equal(symlinkEscape(tree({ d: 'dir', 'd/x': '../f' }), 'l', 'd/x'), undefined);
});

test('symlinkEscape: a chain of exactly 40 symlinks resolves; 41 is a loop', () => {
  const chain = (n: number): Map<string, LinkEntry> => {
    const entries: Record<string, string> = { f: 'file' };
    for (let i = 1; i <= n; i++) entries[`l${i}`] = i === n ? 'f' : `l${i + 1}`;
    return tree(entries);
  };
  assert.equal(symlinkEscape(chain(40), 'l0', 'l1'), undefined);
  assert.equal(symlinkEscape(chain(41), 'l0', 'l1'), 'its target loops through too many symlinks');
});
