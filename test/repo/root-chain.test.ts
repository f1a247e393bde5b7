import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Metadata, MetadataKind } from '@tufjs/models';
import { createKey, initRepository, loadSigner, verifyRepository } from '../../src/repo/index.js';
import { expiresAt } from '../../src/repo/expiry.js';
import { serializeMetadata } from '../../src/repo/metadata-update.js';
import { buildRoot, rolesOf } from '../../src/repo/root-builder.js';
import { tempDir } from './publisher-fixture.js';

/** A root version 2 that hands every role to `keyName`, signed only by the keys given. */
async function forgedRoot(dir: string, signWith: string[]): Promise<Buffer> {
  const metadata = join(dir, 'repository', 'metadata');
  const root1 = Metadata.fromJSON(
    MetadataKind.Root,
    JSON.parse(await readFile(join(metadata, '1.root.json'), 'utf8')) as never,
  );
  const attacker = await createKey(join(dir, 'keys'), 'attacker');
  const roles = rolesOf(root1.signed);
  roles.root = { keyIDs: [attacker.key.keyID], threshold: 1 };
  const root2 = new Metadata(
    buildRoot({
      version: 2,
      expires: expiresAt(new Date(), 365),
      keys: { ...root1.signed.keys, [attacker.key.keyID]: attacker.key },
      roles,
    }),
  );
  for (const name of signWith) root2.sign(await loadSigner(join(dir, 'keys'), name));
  return serializeMetadata(root2);
}

test('a new root signed only by a key the previous root does not trust is reported (root key takeover)', async () => {
  const dir = await tempDir();
  const config = await initRepository(dir, { app: 'demo' });
  const bytes = await forgedRoot(dir, ['attacker']);
  await writeFile(join(config.repository, 'metadata', '2.root.json'), bytes);
  await writeFile(join(config.repository, 'metadata', 'root.json'), bytes);
  const report = await verifyRepository(config.repository);
  assert.equal(report.ok, false);
  assert.ok(
    report.problems.some((p) =>
      /2\.root\.json has 0 of 1 signatures required by root version 1/.test(p.message),
    ),
    JSON.stringify(report.problems),
  );
});

test('a root in the middle of the chain below its own threshold is reported', async () => {
  const dir = await tempDir();
  const config = await initRepository(dir, { app: 'demo' });
  // Root 2 signed by the old root key only (not by its own new root key), then a valid root 3.
  const bytes2 = await forgedRoot(dir, ['root']);
  await writeFile(join(config.repository, 'metadata', '2.root.json'), bytes2);
  const root2 = Metadata.fromJSON(MetadataKind.Root, JSON.parse(bytes2.toString('utf8')) as never);
  const root3 = new Metadata(
    buildRoot({
      version: 3,
      expires: root2.signed.expires,
      keys: root2.signed.keys,
      roles: rolesOf(root2.signed),
    }),
  );
  root3.sign(await loadSigner(join(dir, 'keys'), 'attacker'));
  const bytes3 = serializeMetadata(root3);
  await writeFile(join(config.repository, 'metadata', '3.root.json'), bytes3);
  await writeFile(join(config.repository, 'metadata', 'root.json'), bytes3);
  const report = await verifyRepository(config.repository);
  assert.ok(
    report.problems.some((p) => /2\.root\.json has 0 of its own 1 required root signatures/.test(p.message)),
    JSON.stringify(report.problems),
  );
});
