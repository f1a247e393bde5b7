/**
 * What an attacker holding the targets key (and the online snapshot/timestamp keys) can publish:
 * any bytes for a target, with any custom metadata, properly signed. Built with our own publisher
 * internals (the same signing path as `release add`), so TUF verification passes on the client and
 * only notsotuf's own checks (patch engine, plan, unpack) stand in the way.
 */
import { createHash } from 'node:crypto';
import { TargetFile } from '@tufjs/models';
import type { RepoConfig } from '../../src/repo/config.js';
import { openKeyring } from '../../src/repo/keyring.js';
import { buildUpdate, nextTargets } from '../../src/repo/metadata-update.js';
import { targetFileRel } from '../../src/repo/release-list.js';
import { loadForEdit } from '../../src/repo/repository-files.js';
import type { StagedWrite } from '../../src/repo/repository-writer.js';
import { commitWrites } from '../../src/repo/repository-writer.js';

export type CustomEdit = (custom: Record<string, unknown>) => void;

/** Signed custom metadata of a target as stored (`custom.notsotuf`), for editing. */
function notsotufOf(custom: unknown): Record<string, unknown> {
  const c = structuredClone(custom) as { notsotuf?: Record<string, unknown> };
  if (c?.notsotuf === undefined) throw new Error('target has no custom.notsotuf');
  return c;
}

/**
 * Re-publishes targets as a compromised targets key would: for each entry, new bytes (or the old
 * ones) and an edit of the signed `custom.notsotuf` object; signs targets, snapshot and timestamp.
 */
export async function compromisedTargets(
  config: RepoConfig,
  changes: Record<string, { bytes?: Buffer; edit?: CustomEdit; remove?: boolean; notsotuf?: unknown }>,
): Promise<void> {
  const now = new Date();
  const state = await loadForEdit(config.repository, now);
  const files = { ...state.targets.signed.targets };
  const writes: StagedWrite[] = [];
  for (const [name, change] of Object.entries(changes)) {
    if (change.remove === true) {
      delete files[name];
      continue;
    }
    const old = files[name];
    const custom = notsotufOf(old?.unrecognizedFields.custom ?? { notsotuf: {} });
    change.edit?.((custom as { notsotuf: Record<string, unknown> }).notsotuf);
    // Replaces the whole signed object, with any JSON value (malformed metadata tests).
    if ('notsotuf' in change) (custom as { notsotuf: unknown }).notsotuf = change.notsotuf;
    let length = old?.length ?? 0;
    let sha256 = old?.hashes.sha256 ?? '';
    if (change.bytes !== undefined) {
      length = change.bytes.length;
      sha256 = createHash('sha256').update(change.bytes).digest('hex');
      writes.push({ rel: targetFileRel(name, sha256), bytes: change.bytes });
    }
    files[name] = new TargetFile({
      path: name,
      length,
      hashes: { sha256 },
      unrecognizedFields: { custom: custom as never },
    });
  }
  const update = await buildUpdate({
    state,
    now,
    expiry: config.expiry,
    keyring: openKeyring(config.keys),
    targets: nextTargets(state.targets.signed, now, config.expiry, files),
  });
  await commitWrites(config.repository, [...writes, ...update.writes]);
}
