import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES } from '../../src/errors.js';
import { ERRORS_DOC, renderErrorsDoc } from '../../scripts/errors-doc.js';

test('docs/errors.md lists every error code with its message, as the source has them now', async () => {
  const written = readFileSync(ERRORS_DOC, 'utf8');
  const missing = Object.values(ERROR_CODES)
    .flat()
    .filter((code) => !new RegExp(`^\\| \`${code}\` +\\|`, 'm').test(written));
  assert.deepEqual(missing, [], 'codes missing from docs/errors.md: run `npm run docs:errors`');
  assert.ok(
    written === (await renderErrorsDoc()),
    'docs/errors.md is not what the source says now (a code or message changed): run `npm run docs:errors` and commit it',
  );
});

test('every listed error code is used in the source (a code nothing throws is removed from ERROR_CODES)', async () => {
  const unused = (await renderErrorsDoc())
    .split('\n')
    .filter((line) => /^\| `[A-Z0-9_]+` +\|.*\| +\|$/.test(line))
    .map((line) => line.split('`')[1]);
  assert.deepEqual(unused, [], 'remove these from ERROR_CODES in src/errors.ts, or throw them');
});
