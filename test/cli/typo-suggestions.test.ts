import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli } from '../helpers/cli.js';

/** A typo gets the nearest command or option, in a message of our own (not Node's parser text). */

test('a misspelt option names the nearest one: init --yse -> --yes, no raw parser text', async () => {
  const r = await cli(['init', '--yse']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: unknown option --yse for "notsotuf init": did you mean --yes\?\n/);
  assert.doesNotMatch(r.stderr, /To specify a positional|'--yse'/);
  const far = await cli(['status', '--frobnicate']);
  assert.equal(far.code, 2);
  assert.match(
    far.stderr,
    /^error: unknown option --frobnicate for "notsotuf status" \(see the options below\)\n/,
  );
  assert.match(far.stderr, /Options:/);
  const short = await cli(['release', 'add', '1.0.0', 'x', '--skip-pach']);
  assert.match(short.stderr, /did you mean --skip-patch\?/);
});

test('an option without its value, or a flag given a value, says so plainly', async () => {
  const missing = await cli(['init', '--app']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: --app needs a value \(--app VALUE\)\n/);
  const extra = await cli(['init', '--yes=1']);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /^error: --yes takes no value\n/);
});

test('a misspelt command names the nearest one: relase add 1.3.0 DIR -> release add', async () => {
  const r = await cli(['relase', 'add', '1.3.0', 'DIR']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: unknown command "relase": did you mean "notsotuf release add"\?\n/);
  const sub = await cli(['release', 'ad', '1.3.0', 'DIR']);
  assert.equal(sub.code, 2);
  assert.match(sub.stderr, /^error: unknown command "release ad": did you mean "notsotuf release add"\?\n/);
  const top = await cli(['statsu']);
  assert.match(top.stderr, /^error: unknown command "statsu": did you mean "notsotuf status"\?\n/);
  const group = await cli(['key', 'list']);
  assert.match(group.stderr, /did you mean "notsotuf keys list"\?/);
  const none = await cli(['frobnicate', 'x']);
  assert.match(none.stderr, /^error: unknown command "frobnicate"\n/);
});
