import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../errors.js';
import { digestFile } from '../io/digest.js';
import type { RoleName } from './roles.js';
import { inspectMetadata } from './inspect-metadata.js';
import type { Problem, RoleStatus } from './inspect-metadata.js';
import { listReleases, targetFileRel } from './release-list.js';
import type { Release } from './release-list.js';
import { readMetadataFiles } from './repository-files.js';

/**
 * `notsotuf status`: the repository on disk verified against its own trusted root chain (every
 * signature, threshold, version, hash and length of metadata and of every target file), with the
 * releases and the roles that expire soon.
 */
export interface VerifyOptions {
  readonly now?: Date;
  /** Warn when root or targets expire within this many days (default 30, when `refresh` starts re-signing them). */
  readonly warnDays?: number;
  /** Check target files by length only, not sha256 (fast on big repositories; not a full check). */
  readonly lengthsOnly?: boolean;
}

export interface VerifyReport {
  /** True when nothing is wrong: a TUF client would accept the repository now. */
  readonly ok: boolean;
  readonly problems: readonly Problem[];
  readonly warnings: readonly string[];
  readonly roles: readonly RoleStatus[];
  readonly releases: readonly Release[];
  /** Number of target files whose length and sha256 were checked. */
  readonly targetsChecked: number;
}

const HOUR_MS = 3_600_000;

/** Warning windows: online roles (snapshot, timestamp) are re-signed by `refresh`, so they warn late. */
function warnWithinMs(role: RoleName, warnDays: number): number {
  if (role === 'timestamp') return 6 * HOUR_MS;
  if (role === 'snapshot') return 24 * HOUR_MS;
  return warnDays * 24 * HOUR_MS;
}

/**
 * Each patch must start from the signed tar of the release before it and produce the signed tar
 * of its own release; otherwise clients download it, fail, and fall back to the full archive.
 */
export function patchChainProblems(releases: readonly Release[]): Problem[] {
  const problems: Problem[] = [];
  const byApp = new Map<string, Release[]>();
  for (const r of releases) byApp.set(r.app, [...(byApp.get(r.app) ?? []), r]);
  for (const list of byApp.values()) {
    list.forEach((r, i) => {
      const patch = r.patch?.meta;
      if (patch === undefined) return;
      const source = list.find((x) => x.version === patch.source.version);
      const what = `patch ${r.patch?.name ?? ''}`;
      if (source === undefined) {
        problems.push({
          kind: 'inconsistent',
          role: 'targets',
          message: `${what} starts from ${patch.source.version}, which is not a release`,
        });
      } else if (
        source.meta.tar.sha256 !== patch.source.sha256 ||
        source.meta.tar.length !== patch.source.length
      ) {
        problems.push({
          kind: 'inconsistent',
          role: 'targets',
          message: `${what} starts from a tar that is not the signed tar of ${r.app} ${source.version}`,
        });
      } else if (list[i - 1]?.version !== source.version) {
        problems.push({
          kind: 'inconsistent',
          role: 'targets',
          message: `${what} starts from ${source.version}, not from the release just before it`,
        });
      }
      if (patch.result.sha256 !== r.meta.tar.sha256 || patch.result.length !== r.meta.tar.length) {
        problems.push({
          kind: 'inconsistent',
          role: 'targets',
          message: `${what} does not produce the signed tar of ${r.app} ${r.version}`,
        });
      }
    });
  }
  return problems;
}

export async function verifyRepository(repoDir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const now = options.now ?? new Date();
  const warnDays = options.warnDays ?? 30;
  const inspection = inspectMetadata(await readMetadataFiles(repoDir), now);
  const problems: Problem[] = [...inspection.problems];
  const warnings: string[] = [];
  for (const r of inspection.roles) {
    const left = new Date(r.expires).getTime() - now.getTime();
    if (left > 0 && left < warnWithinMs(r.role, warnDays)) {
      const hours = Math.floor(left / HOUR_MS);
      warnings.push(
        `${r.role} expires at ${r.expires} (in ${hours >= 48 ? `${Math.floor(hours / 24)} days` : `${hours} hours`}): run "notsotuf refresh"`,
      );
    }
  }
  let releases: Release[] = [];
  let targetsChecked = 0;
  const state = inspection.state;
  if (state !== undefined) {
    try {
      releases = listReleases(state.targets.signed);
    } catch (error) {
      problems.push({ kind: 'corrupt', role: 'targets', message: messageOf(error) });
    }
    problems.push(...patchChainProblems(releases));
    for (const [name, t] of Object.entries(state.targets.signed.targets)) {
      const sha256 = t.hashes.sha256;
      if (sha256 === undefined) {
        problems.push({ kind: 'corrupt', role: 'targets', message: `target ${name} has no sha256 hash` });
        continue;
      }
      const path = join(repoDir, ...targetFileRel(name, sha256).split('/'));
      try {
        const info = await stat(path);
        if (!info.isFile()) throw new Error('not a file');
        // Lengths only: the size on disk stands in for a full read (a quick check of a big repository).
        // Otherwise at most one byte more than signed is read: enough to tell "too long".
        const got =
          options.lengthsOnly === true
            ? { sha256, length: info.size }
            : await digestFile(path, { maxLength: t.length });
        if (got.length !== t.length) {
          problems.push({
            kind: 'corrupt',
            role: 'targets',
            message: `target file ${targetFileRel(name, sha256)} is ${info.size} bytes, signed length is ${t.length}`,
          });
        } else if (got.sha256 !== sha256) {
          problems.push({
            kind: 'corrupt',
            role: 'targets',
            message: `target file ${targetFileRel(name, sha256)} does not match its signed sha256`,
          });
        }
        targetsChecked++;
      } catch (error) {
        problems.push({
          kind: 'corrupt',
          role: 'targets',
          message: `target file ${targetFileRel(name, sha256)} is missing (${messageOf(error)})`,
        });
      }
    }
  }
  return { ok: problems.length === 0, problems, warnings, roles: inspection.roles, releases, targetsChecked };
}
