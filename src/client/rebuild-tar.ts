import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchiveMeta, PatchMeta } from '../core/custom-metadata.js';
import { gunzipTo } from '../archive/index.js';
import { applyPatch } from '../diff/index.js';

/**
 * Builds the uncompressed tar of the new version in `workDir`, by the patch chain when there is
 * one, else (or when any step fails) from the full archive. Every step checks digests from signed
 * metadata: a patch checks its source before it trusts it and its result before it is renamed; the
 * full archive's tar is checked against the signed tar digest. Resolves with the tar's path.
 */
export interface RebuildInput {
  readonly workDir: string;
  readonly release: ArchiveMeta;
  /** The patch chain with the verified local path of each patch, in apply order; empty = full. */
  readonly chain: readonly { readonly meta: PatchMeta; readonly path: string }[];
  /** The current version's tar (cached or rebuilt); required when `chain` is not empty. */
  readonly sourceTar?: string;
  /** Gives the verified local path of the full archive (downloading it when needed). */
  readonly fullArchive: () => Promise<string>;
  readonly signal?: AbortSignal;
  /** Bytes of the new tar written so far (patch steps count as one run to the final length). */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface RebuildResult {
  readonly tarPath: string;
  readonly via: 'patches' | 'full';
  /** The error that made the patch chain fail, when it fell back to the full archive. */
  readonly patchError?: unknown;
}

export async function rebuildTar(input: RebuildInput): Promise<RebuildResult> {
  const out = join(input.workDir, `${input.release.version}.tar`);
  await rm(out, { force: true });
  let patchError: unknown;
  if (input.chain.length > 0 && input.sourceTar !== undefined) {
    try {
      let source = input.sourceTar;
      // Every step writes a whole tar; their lengths together are the work to do.
      const total = input.chain.reduce((sum, step) => sum + step.meta.result.length, 0);
      let before = 0;
      for (const [i, step] of input.chain.entries()) {
        const last = i === input.chain.length - 1;
        const stepOut = last ? out : join(input.workDir, `step-${i}.tar`);
        await applyPatch(source, step.path, stepOut, {
          expectedSource: { sha256: step.meta.source.sha256, length: step.meta.source.length },
          expectedResult: step.meta.result,
          ...(input.signal ? { signal: input.signal } : {}),
          ...(input.onProgress ? { onProgress: (n: number) => input.onProgress?.(before + n, total) } : {}),
        });
        before += step.meta.result.length;
        input.onProgress?.(before, total);
        if (source !== input.sourceTar) await rm(source, { force: true });
        source = stepOut;
      }
      return { tarPath: out, via: 'patches' };
    } catch (error) {
      // Cancelling is not a patch failure: do not fall back, do not remember it.
      input.signal?.throwIfAborted();
      patchError = error;
      for (let i = 0; i < input.chain.length; i++)
        await rm(join(input.workDir, `step-${i}.tar`), { force: true });
      await rm(out, { force: true });
    }
  }
  const archive = await input.fullArchive();
  const tmp = `${out}.gunzip`;
  const tarLength = input.release.tar.length;
  input.onProgress?.(0, tarLength);
  await gunzipTo(archive, tmp, input.release.tar, {
    ...(input.signal ? { signal: input.signal } : {}),
    ...(input.onProgress ? { onProgress: (n: number) => input.onProgress?.(n, tarLength) } : {}),
  });
  input.onProgress?.(tarLength, tarLength);
  await rename(tmp, out);
  return patchError === undefined ? { tarPath: out, via: 'full' } : { tarPath: out, via: 'full', patchError };
}
