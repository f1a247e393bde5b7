import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES } from '../../src/errors.js';
import { ERRORS_DOC, renderErrorsDoc } from '../../scripts/errors-doc.js';

/** The codes of a page, by class: the `| \`CODE\` |` rows under each `## Class` heading. */
function codesOf(page: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let cls = '';
  for (const line of page.split('\n')) {
    const heading = /^## (\w+)$/.exec(line);
    if (heading !== null) cls = heading[1]!;
    const row = /^\| `([A-Z0-9_]+)` +\|/.exec(line);
    if (row !== null) (out[cls] ??= []).push(row[1]!);
  }
  return out;
}

// Messages change often; the page is regenerated with them. What must always hold is that it
// names every code of every class, and no code that is gone.
test('docs/errors.md lists every error code of every class, and no other', () => {
  const listed = codesOf(readFileSync(ERRORS_DOC, 'utf8'));
  const expected = Object.fromEntries(Object.entries(ERROR_CODES).map(([cls, codes]) => [cls, [...codes]]));
  assert.deepEqual(
    listed,
    expected,
    'docs/errors.md is not current: run `npm run docs:errors` and commit it',
  );
});

test('every listed error code is used in the source (a code nothing throws is removed from ERROR_CODES)', async () => {
  const unused = (await renderErrorsDoc())
    .split('\n')
    .filter((line) => /^\| `[A-Z0-9_]+` +\|.*\| +\|$/.test(line))
    .map((line) => line.split('`')[1]);
  assert.deepEqual(unused, [], 'remove these from ERROR_CODES in src/errors.ts, or throw them');
});
