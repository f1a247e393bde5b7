import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import * as entry from '../../src/client/index.js';
import * as errors from '../../src/errors.js';

test('the notsotuf entry exports the Client and every error class', () => {
  assert.equal(typeof entry.Client, 'function');
  for (const [name, value] of Object.entries(errors)) {
    if (typeof value === 'function' && /Error$/.test(name)) {
      assert.equal((entry as Record<string, unknown>)[name], value, `${name} is exported`);
    }
  }
  assert.ok(new entry.HttpStatusError('http://x', 404) instanceof entry.TransportError);
});

test('the client never loads the publisher (signing code stays out of apps)', async () => {
  // Follow the client's own imports transitively and make sure none reaches src/repo.
  const seen = new Set<string>();
  const queue = [new URL('../../src/client/index.ts', import.meta.url)];
  while (queue.length > 0) {
    const url = queue.pop()!;
    if (seen.has(url.href)) continue;
    seen.add(url.href);
    assert.ok(!url.pathname.includes('/src/repo/'), `${url.pathname} is publisher code`);
    const text = await readFile(url, 'utf8');
    for (const m of text.matchAll(/(?:import|export)[^'"]*from\s+'(\.{1,2}\/[^']+)'/g)) {
      queue.push(new URL(m[1]!.replace(/\.js$/, '.ts'), url));
    }
  }
  assert.ok(seen.size > 10);
});
