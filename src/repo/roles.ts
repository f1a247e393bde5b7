import { UsageError } from '../errors.js';

/** The four top-level TUF roles a notsotuf repository has (no delegations). */
export const ROLE_NAMES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

export function isRoleName(name: string): name is RoleName {
  return (ROLE_NAMES as readonly string[]).includes(name);
}

export function parseRoleName(name: string): RoleName {
  if (!isRoleName(name)) {
    throw new UsageError('INVALID_ROLE', `"${name}" is not a role: use one of ${ROLE_NAMES.join(', ')}`);
  }
  return name;
}
