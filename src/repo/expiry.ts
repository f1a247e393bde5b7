import { UsageError } from '../errors.js';
import { ROLE_NAMES } from './roles.js';
import type { RoleName } from './roles.js';

/** Days each role's metadata stays valid. Root is offline and long-lived; timestamp is online. */
export type Expiry = Readonly<Record<RoleName, number>>;

export const DEFAULT_EXPIRY: Expiry = { root: 365, targets: 90, snapshot: 7, timestamp: 1 };

/** Shortest root lifetime accepted: a root that expires in a day breaks every client in the field. */
export const MIN_ROOT_DAYS = 30;

const DAY_MS = 86_400_000;

/**
 * `expires` as `YYYY-MM-DDTHH:MM:SSZ`: TUF metadata with milliseconds is rejected by other
 * clients (python-tuf's and go-tuf's parsers), so they are dropped (rounded down).
 */
export function expiresAt(now: Date, days: number): string {
  return new Date(now.getTime() + days * DAY_MS).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Checks expiry days: positive integers, root at least MIN_ROOT_DAYS. */
export function checkExpiry(expiry: Partial<Record<string, unknown>>): Expiry {
  const out: Record<string, number> = {};
  for (const role of ROLE_NAMES) {
    const v = expiry[role] ?? DEFAULT_EXPIRY[role];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 3650) {
      throw new UsageError(
        'INVALID_EXPIRY',
        `expiry of ${role} must be a whole number of days from 1 to 3650, got ${JSON.stringify(v)}`,
      );
    }
    out[role] = v;
  }
  if ((out.root ?? 0) < MIN_ROOT_DAYS) {
    throw new UsageError(
      'INVALID_EXPIRY',
      `root expiry of ${out.root} days is too short: use at least ${MIN_ROOT_DAYS} (default ${DEFAULT_EXPIRY.root})`,
    );
  }
  return out as Record<RoleName, number>;
}
