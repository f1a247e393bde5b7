import { Root } from '@tufjs/models';
import type { Key } from '@tufjs/models';
import { ROLE_NAMES } from './roles.js';
import type { RoleName } from './roles.js';

/** The TUF spec version our metadata declares. */
export const SPEC_VERSION = '1.0.31';

export interface RoleSpec {
  readonly keyIDs: readonly string[];
  readonly threshold: number;
}

export interface RootSpec {
  readonly version: number;
  readonly expires: string;
  readonly specVersion?: string;
  readonly keys: Readonly<Record<string, Key>>;
  readonly roles: Readonly<Record<RoleName, RoleSpec>>;
}

/**
 * A Root from plain values (@tufjs/models does not export its Role class, so roles go through
 * Root.fromJSON). consistent_snapshot is always on. Keys no role uses are dropped.
 */
export function buildRoot(spec: RootSpec): Root {
  const used = new Set(ROLE_NAMES.flatMap((r) => spec.roles[r].keyIDs));
  const keys: Record<string, unknown> = {};
  for (const id of [...used].sort()) {
    const key = spec.keys[id];
    if (key === undefined) throw new TypeError(`role key ${id} is not in keys`);
    keys[id] = key.toJSON();
  }
  const roles: Record<string, unknown> = {};
  for (const r of ROLE_NAMES) {
    roles[r] = { keyids: [...spec.roles[r].keyIDs], threshold: spec.roles[r].threshold };
  }
  return Root.fromJSON({
    _type: 'root',
    spec_version: spec.specVersion ?? SPEC_VERSION,
    version: spec.version,
    expires: spec.expires,
    consistent_snapshot: true,
    keys,
    roles,
  } as Parameters<typeof Root.fromJSON>[0]);
}

/** The roles of a root as plain specs. */
export function rolesOf(root: Root): Record<RoleName, RoleSpec> {
  const out = {} as Record<RoleName, RoleSpec>;
  for (const r of ROLE_NAMES) {
    const role = root.roles[r];
    out[r] = { keyIDs: [...(role?.keyIDs ?? [])], threshold: role?.threshold ?? 1 };
  }
  return out;
}
