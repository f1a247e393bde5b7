import { createHash } from 'node:crypto';
import { entryHints } from './entry-hints.js';
import { digestBytes } from '../io/digest.js';
import { readWhole, writeAtomically } from './file-io.js';
import { KIND_ARM64, KIND_REF_ARM64, transformInPlace } from './exe-transform.js';
import { CHECKSUM_2_LENGTH, encodeHeader2, PATCH_FORMAT_2 } from './format-2.js';
import { CHECKSUM_OFFSET, COMPRESSION_BROTLI, encodeHeader, PATCH_FORMAT, type Digest } from './format.js';
import { chooseTransforms, type RefCandidate } from './transform-choice.js';
import { chooseRefs, MatchRecorder, segmentsOf } from './ref-choice.js';
import { EquivalenceMap, isRefKind, Predictor } from './ref-predict.js';
import { regionsOf, type TransformEntry, type TransformTable } from './transform-table.js';
import { indexOld, matchArchives, type OldIndex } from './matcher.js';
import { COMPRESSION, patchTooLarge, StreamWriter } from './stream-writer.js';
import { unmatchedIncompressible } from './unmatched-estimate.js';

export interface PatchInfo {
  readonly source: Digest;
  readonly result: Digest;
  readonly patchLength: number;
  readonly patchSha256: string;
  /** The patch's format name (what the signed metadata of the patch carries). */
  readonly format: string;
}

/** The formats createPatch writes: 2 (default) transforms machine code first; 1 for old clients. */
export type PatchFormatVersion = 1 | 2;

export interface CreatePatchOptions {
  readonly signal?: AbortSignal;
  /** Sample every `step`-th window of the old archive (default 8: less memory than 4, about as good). */
  readonly step?: number;
  /** Format to write (default 2). Clients older than format 2 only apply format 1. */
  readonly format?: PatchFormatVersion;
  /** Predict references of x86-64 and arm64 executables where it pays (format 2; default true). */
  readonly predict?: boolean;
  /**
   * Give up with a DataError PATCH_TOO_LARGE (writing nothing) when the patch would be longer than
   * this: matching stops as soon as the compressed streams are past it.
   */
  readonly maxLength?: number;
}

/**
 * The table with the candidates for reference prediction added (each side sorted by start): a
 * taken candidate with all its regions, the others with their transformed regions (DELTA tables,
 * arm64 code as ARM64) only, since those were transformed before matching whether prediction is
 * taken or not.
 */
function withRefs(
  t: TransformTable,
  candidates: readonly RefCandidate[],
  taken: readonly RefCandidate[],
): TransformTable {
  const byStart = (a: TransformEntry, b: TransformEntry): number => a.start - b.start;
  const pick = (c: RefCandidate, side: 'source' | 'result'): TransformEntry[] => {
    const e = c[side];
    if (taken.includes(c)) return [e];
    // Not predicted: arm64 code is transformed all the same (as kind 2), the rest stays plain.
    const regions = e.regions
      .filter((r) => !isRefKind(r.kind) || r.kind === KIND_REF_ARM64)
      .map((r) => (r.kind === KIND_REF_ARM64 ? { ...r, kind: KIND_ARM64, bits: 0 } : r));
    return regions.length === 0 ? [] : [{ ...e, regions }];
  };
  return {
    source: [...t.source, ...candidates.flatMap((c) => pick(c, 'source'))].sort(byStart),
    result: [...t.result, ...candidates.flatMap((c) => pick(c, 'result'))].sort(byStart),
  };
}

/**
 * Creates a patch that turns `oldTarPath` into `newTarPath` and writes it to `patchPath` (through a
 * temp file and a rename). Both inputs are read into memory; the index adds about half a byte per
 * old byte.
 */
export async function createPatch(
  oldTarPath: string,
  newTarPath: string,
  patchPath: string,
  options: CreatePatchOptions = {},
): Promise<PatchInfo> {
  const { signal } = options;
  const old = await readWhole(oldTarPath, 'old archive');
  const nu = await readWhole(newTarPath, 'new archive');
  signal?.throwIfAborted();
  const source = digestBytes(old);
  const result = digestBytes(nu);
  const version = options.format ?? 2;
  let transforms: TransformTable = { source: [], result: [] };
  let base: TransformTable = { source: [], result: [] };
  let candidates: RefCandidate[] = [];
  let refs: RefCandidate[] = [];
  if (version === 2) {
    // Both archives are matched with their machine code transformed (in place: nothing else reads
    // them); the applier transforms the source the same way and undoes the result's transform.
    // The candidates for reference prediction have their tables (DELTA regions) transformed too.
    const chosen = await chooseTransforms(old, nu);
    candidates = chosen.refs;
    base = { source: chosen.source, result: chosen.result };
    transforms = withRefs(base, candidates, []);
    refs = options.predict === false ? [] : candidates;
    transformInPlace(old, regionsOf(transforms.source), 1);
    transformInPlace(nu, regionsOf(transforms.result), 1);
  }
  const hints = entryHints(old, nu);
  const maxLength = options.maxLength ?? Infinity;
  const step = options.step ?? 8;
  // Handed to the matcher and dropped here, so it is freed once matching is done.
  let index: OldIndex | undefined = indexOld(old, step);
  // New bytes that can only be inserted as they are (random, compressed) and alone pass the limit:
  // give up before matching them.
  if (maxLength < nu.length && unmatchedIncompressible(index, old, nu, hints) > maxLength) {
    throw patchTooLarge(maxLength);
  }
  const takeIndex = (): OldIndex | undefined => {
    const taken = index;
    index = undefined;
    return taken;
  };
  let writer: StreamWriter | undefined;
  let streams;
  try {
    if (refs.length === 0) {
      writer = new StreamWriter(old, nu);
      writer.maxLength = maxLength;
      await matchArchives(old, nu, hints, writer, { step, signal, index: takeIndex() });
    } else {
      // Reference prediction needs every match first (a reference may point forward).
      const recorder = new MatchRecorder();
      await matchArchives(old, nu, hints, recorder, { step, signal, index: takeIndex() });
      signal?.throwIfAborted();
      const taken = chooseRefs(old, nu, recorder, refs);
      transforms = withRefs(base, candidates, taken);
      const sourceRefs = taken.map((c) => c.source);
      const segments = segmentsOf(recorder, sourceRefs);
      const predictor =
        taken.length === 0
          ? undefined
          : new Predictor(transforms.source, transforms.result, new EquivalenceMap(segments));
      writer = new StreamWriter(old, nu, COMPRESSION, predictor);
      writer.maxLength = maxLength;
      await recorder.replay(writer);
    }
    streams = await writer.finish();
  } catch (error) {
    writer?.destroy();
    throw error;
  }
  const length = (parts: Buffer[]): number => parts.reduce((n, p) => n + p.length, 0);
  const written = writer;
  const fields = {
    source,
    result,
    compression: COMPRESSION_BROTLI,
    compressed: {
      control: length(streams.control),
      diff: length(streams.diff),
      extra: length(streams.extra),
    },
    uncompressed: {
      control: written.control.uncompressed,
      diff: written.diff.uncompressed,
      extra: written.extra.uncompressed,
    },
  };
  const header = version === 2 ? encodeHeader2({ ...fields, transforms }) : encodeHeader(fields);
  const checksumOffset = version === 2 ? header.length - CHECKSUM_2_LENGTH : CHECKSUM_OFFSET;
  const body = [...streams.control, ...streams.diff, ...streams.extra];
  const checksum = createHash('sha256').update(header.subarray(0, checksumOffset));
  for (const b of body) checksum.update(b);
  checksum.digest().copy(header, checksumOffset, 0, header.length - checksumOffset);
  const whole = createHash('sha256').update(header);
  for (const b of body) whole.update(b);
  if (header.length + length(body) > maxLength) throw patchTooLarge(maxLength);
  signal?.throwIfAborted();
  await writeAtomically(patchPath, [header, ...body]);
  return {
    source,
    result,
    patchLength: header.length + length(body),
    patchSha256: whole.digest('hex'),
    format: version === 2 ? PATCH_FORMAT_2 : PATCH_FORMAT,
  };
}
