import { copyFile, link, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InstallError, NotsotufError, messageOf } from '../errors.js';
import { writeNewFileSynced } from '../io/atomic-write.js';
import { tempPathFor } from '../io/temp-name.js';
import { pathExists } from '../io/path-exists.js';
import { makeDirs } from '../io/make-dirs.js';

/**
 * All-or-nothing writes into a repository folder. Every new file is first written under a temp
 * name beside its final name (and fsynced); only when all are staged are they renamed, in the order
 * a client can never see torn: targets, versioned metadata (targets, snapshot, root), root.json,
 * timestamp.json last. If anything fails, files already renamed are removed (new names) or
 * restored (replaced names), and temp files are deleted: the repository is left as it was.
 */
export interface StagedWrite {
  /** Path relative to the repository folder, with "/" separators. */
  readonly rel: string;
  readonly bytes?: Buffer;
  /** A file to copy (or move, when `move`) instead of bytes. */
  readonly file?: string;
  readonly move?: boolean;
}

/** Test seam: called before each final rename; throwing there simulates a crash part way. */
export type StepHook = (rel: string) => void | Promise<void>;

/** Position of a repository path in the safe publish order. */
export function publishPhase(rel: string): number {
  if (rel.startsWith('targets/')) return 0;
  if (rel === 'metadata/timestamp.json') return 4;
  if (rel === 'metadata/root.json') return 3;
  if (/^metadata\/\d+\.root\.json$/.test(rel)) return 2;
  if (/^metadata\/\d+\.targets\.json$/.test(rel)) return 1;
  if (rel.startsWith('metadata/')) return 1.5;
  return 0;
}

export function inPublishOrder<T extends { rel: string }>(items: readonly T[]): T[] {
  return [...items].sort(
    (a, b) => publishPhase(a.rel) - publishPhase(b.rel) || (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0),
  );
}

async function sameBytes(path: string, bytes: Buffer): Promise<boolean> {
  try {
    return (await readFile(path)).equals(bytes);
  } catch {
    return false;
  }
}

export async function commitWrites(
  repoDir: string,
  writes: readonly StagedWrite[],
  onStep?: StepHook,
): Promise<void> {
  const staged: { rel: string; tmp: string; final: string }[] = [];
  const done: { final: string; backup?: string }[] = [];
  try {
    for (const w of inPublishOrder(writes)) {
      const final = join(repoDir, ...w.rel.split('/'));
      if (w.bytes !== undefined && (await sameBytes(final, w.bytes))) continue;
      await makeDirs(dirname(final));
      const tmp = tempPathFor(final);
      if (w.bytes !== undefined) {
        await writeNewFileSynced(tmp, w.bytes, 0o644);
      } else if (w.file !== undefined) {
        if (w.move === true) {
          try {
            await rename(w.file, tmp);
          } catch {
            await copyFile(w.file, tmp);
          }
        } else {
          await copyFile(w.file, tmp);
        }
      } else {
        throw new TypeError(`staged write ${w.rel} has neither bytes nor file`);
      }
      staged.push({ rel: w.rel, tmp, final });
    }
    for (const s of staged) {
      if (onStep !== undefined) await onStep(s.rel);
      let backup: string | undefined;
      if (await pathExists(s.final)) {
        backup = tempPathFor(s.final);
        // A hard link keeps the old bytes at no cost; file systems without links get a copy.
        await link(s.final, backup).catch(() => copyFile(s.final, backup as string));
      }
      done.push({ final: s.final, backup });
      await rename(s.tmp, s.final);
    }
  } catch (error) {
    for (const d of done.reverse()) {
      if (d.backup !== undefined) await rename(d.backup, d.final).catch(() => undefined);
      else await rm(d.final, { force: true });
    }
    for (const s of staged) await rm(s.tmp, { force: true });
    if (error instanceof NotsotufError) throw error;
    throw new InstallError(
      'REPOSITORY_WRITE_FAILED',
      `writing the repository failed and was rolled back, nothing was changed: ${messageOf(error)}`,
      { cause: error },
    );
  }
  for (const d of done) if (d.backup !== undefined) await rm(d.backup, { force: true });
}
