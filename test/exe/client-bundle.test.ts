/**
 * The single-file client executables hold the client only: an app that ships them must not carry
 * the publisher's code (src/repo/: keys, signing, releases) nor the publisher's commands.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bundle } from '../../scripts/exe/bundle.js';

/** Node's signing primitives as the publisher uses them; the client only verifies. */
const SIGNING_CALLS = ['generateKeyPairSync', 'createPrivateKey', '.sign)('];

const PUBLISHER_MODULES =
  /^src\/(repo\/|cli\/commands\/(index|init|keys|keys-shared|sign|publish|release|refresh|serve|status|diff|patch)\.ts$)/;

test('the client bundle holds no module of src/repo/, no publisher command and no signing call', async () => {
  const { code, inputs } = await bundle();
  assert.ok(inputs.includes('src/cli/commands/check.ts'), `check is in the client: ${inputs.join(', ')}`);
  assert.ok(inputs.includes('src/cli/commands/update.ts'));
  assert.deepEqual(
    inputs.filter((f) => PUBLISHER_MODULES.test(f)),
    [],
    'publisher modules in the client bundle',
  );
  for (const call of SIGNING_CALLS) assert.ok(!code.includes(call), `the client bundle calls ${call}`);
});

test('the same check finds the publisher code in the full CLI (so it can fail)', async () => {
  const { code, inputs } = await bundle('src/cli/main.ts');
  assert.ok(inputs.some((f) => f.startsWith('src/repo/')));
  assert.ok(inputs.some((f) => PUBLISHER_MODULES.test(f)));
  assert.ok(SIGNING_CALLS.some((call) => code.includes(call)));
});
