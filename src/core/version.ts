import { compare as pepCompare, explain } from '@renovatebot/pep440';
import { UsageError } from '../errors.js';

/** Release levels, most stable first. A client on channel X accepts X and every level above it. */
export const CHANNELS = ['stable', 'rc', 'beta', 'alpha', 'dev'] as const;
export type Channel = (typeof CHANNELS)[number];

export interface Version {
  /** Normalised PEP 440 spelling, e.g. `1.2.0b1` for `1.2.0-beta.1`. */
  readonly text: string;
  readonly channel: Channel;
}

const PRE_LEVEL: Record<string, Channel> = { rc: 'rc', b: 'beta', a: 'alpha' };

/**
 * Parses and normalises a release version (PEP 440, with common semver spellings accepted).
 * Local labels (`+abc`) and epochs (`1!2.0`) are refused: they do not belong in published file names.
 */
export function parseVersion(input: string): Version {
  const trimmed = input.trim().replace(/^v/i, '');
  const parts = explain(trimmed);
  if (parts === null) {
    throw new UsageError(
      'INVALID_VERSION',
      `"${input}" is not a valid version: use PEP 440 (e.g. 1.2.0, 1.3.0rc1, 2.0.0.dev3; semver like 1.2.0-beta.1 is accepted)`,
    );
  }
  if (parts.local !== null) {
    throw new UsageError(
      'INVALID_VERSION',
      `"${input}" has a local label (+${parts.local}); releases may not`,
    );
  }
  if (parts.epoch !== 0) {
    throw new UsageError('INVALID_VERSION', `"${input}" has an epoch (N!); releases may not`);
  }
  let channel: Channel = 'stable';
  if (parts.dev !== null) channel = 'dev';
  else if (parts.pre !== null) channel = PRE_LEVEL[String(parts.pre[0])] ?? 'alpha';
  return { text: parts.public, channel };
}

/** True when `input` parses as a release version. */
export function isValidVersion(input: string): boolean {
  try {
    parseVersion(input);
    return true;
  } catch {
    return false;
  }
}

/** Total order of PEP 440 (pre < release < post; dev before its pre/release). Negative when a < b. */
export function compareVersions(a: string, b: string): number {
  return pepCompare(parseVersion(a).text, parseVersion(b).text);
}

export function parseChannel(input: string): Channel {
  const found = CHANNELS.find((c) => c === input);
  if (found === undefined) {
    throw new UsageError('INVALID_CHANNEL', `"${input}" is not a channel: use one of ${CHANNELS.join(', ')}`);
  }
  return found;
}

/** Whether an install on `channel` may receive a release of level `level`. */
export function channelAccepts(channel: Channel, level: Channel): boolean {
  return CHANNELS.indexOf(level) <= CHANNELS.indexOf(channel);
}
