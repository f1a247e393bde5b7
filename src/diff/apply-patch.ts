import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { createBrotliDecompress } from 'node:zlib';
import { DataError } from '../errors.js';
import { ByteReader } from './byte-reader.js';
import { tempPathFor } from '../io/temp-name.js';
import { digestFile, fsError } from './file-io.js';
import { MAX_INSN, RegionCoder, type Region } from './exe-transform.js';
import { OP_ADD, OP_COPY, OP_INSERT, OP_SEEK, STREAMS, type Digest, type PatchHeader } from './format.js';
import { OldReader } from './old-reader.js';
import { readPatchHeaderFull } from './read-patch-header.js';
import { EquivalenceMap, Predictor, refEntries, SegmentList } from './ref-predict.js';
import { regionsOf } from './transform-table.js';
import { unzigzag } from './varint.js';

export interface ApplyPatchOptions {
  /** The source digest from signed metadata: the patch header must agree with it. */
  readonly expectedSource?: Digest;
  /** The result digest from signed metadata: the patch header and the output must agree with it. */
  readonly expectedResult?: Digest;
  readonly signal?: AbortSignal;
  readonly onProgress?: (bytesWritten: number, total: number) => void;
}

const OUT_CHUNK = 1 << 20;

function sameDigest(a: Digest, b: Digest): boolean {
  return a.length === b.length && a.sha256.toLowerCase() === b.sha256.toLowerCase();
}

function corrupt(what: string): DataError {
  return new DataError('PATCH_CORRUPT', `the patch is corrupt: ${what}; download it again`);
}

async function verifyChecksum(
  patchPath: string,
  header: Buffer,
  h: PatchHeader,
  signal?: AbortSignal,
): Promise<void> {
  const hash = createHash('sha256').update(header.subarray(0, h.checksumOffset));
  for await (const chunk of createReadStream(patchPath, {
    start: h.bodyStart,
    highWaterMark: 1 << 20,
    signal,
  })) {
    hash.update(chunk as Buffer);
  }
  if (hash.digest('hex').slice(0, 2 * h.checksumLength) !== h.checksum) {
    throw corrupt('its checksum does not match its content');
  }
}

const SOURCE_CHUNK = 1 << 20;

/**
 * Hashes the source and, for a patch with transformed source regions, writes the transformed
 * bytes of those regions one after the other to `overlayPath` (the old archive is read once,
 * 1 MB at a time; memory does not grow with the archive).
 */
async function hashSource(
  path: string,
  size: number,
  regions: readonly Region[],
  overlayPath: string,
  signal?: AbortSignal,
): Promise<{ digest: Digest; at: number[] }> {
  if (regions.length === 0) return { digest: await digestFile(path, 'old archive', signal), at: [] };
  const at: number[] = [];
  let total = 0;
  for (const r of regions) {
    at.push(total);
    total += r.length;
  }
  const coder = new RegionCoder(regions, 1);
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(SOURCE_CHUNK + 2 * MAX_INSN);
  let fh: FileHandle | undefined;
  let ov: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    ov = await open(overlayPath, 'w');
    let carry = 0;
    let pos = 0; // archive offset of buf[0]
    let readPos = 0;
    let ri = 0;
    for (;;) {
      signal?.throwIfAborted();
      const { bytesRead } = await fh.read(buf, carry, SOURCE_CHUNK, readPos);
      hash.update(buf.subarray(carry, carry + bytesRead));
      readPos += bytesRead;
      const last = bytesRead === 0 || readPos >= size;
      const len = carry + bytesRead;
      const done = coder.push(buf, pos, len, last);
      for (; ri < regions.length; ri++) {
        const r = regions[ri] as Region;
        const from = Math.max(r.start, pos);
        const to = Math.min(r.start + r.length, pos + done);
        if (from >= pos + done) break;
        for (let o = 0; o < to - from;) {
          o += (await ov.write(buf, from - pos + o, to - from - o)).bytesWritten;
        }
        if (r.start + r.length > pos + done) break;
      }
      buf.copyWithin(0, done, len);
      carry = len - done;
      pos += done;
      if (last) break;
    }
    return { digest: { sha256: hash.digest('hex'), length: readPos }, at };
  } catch (error) {
    throw fsError(error, path, 'old archive');
  } finally {
    await fh?.close();
    await ov?.close();
  }
}

/** Refuses a patch whose header disagrees with the digests of the signed metadata. */
function checkAgainstMetadata(patchPath: string, header: PatchHeader, options: ApplyPatchOptions): void {
  if (options.expectedSource !== undefined && !sameDigest(options.expectedSource, header.source)) {
    throw new DataError(
      'PATCH_METADATA_MISMATCH',
      `the patch ${patchPath} starts from a different archive than the signed metadata says; download the full archive`,
    );
  }
  if (options.expectedResult !== undefined && !sameDigest(options.expectedResult, header.result)) {
    throw new DataError(
      'PATCH_METADATA_MISMATCH',
      `the patch ${patchPath} produces a different archive than the signed metadata says; download the full archive`,
    );
  }
}

/** What the read of the old archive leaves for the apply: where the overlay holds each region. */
interface CheckedSource {
  readonly regions: readonly Region[];
  readonly at: readonly number[];
}

/**
 * Checks that `oldTarPath` is the patch's source (size, then sha256) and writes the transformed
 * bytes of its code regions to `overlayPath`. The caller removes `overlayPath` in any case.
 */
async function checkSource(
  oldTarPath: string,
  header: PatchHeader,
  overlayPath: string,
  signal?: AbortSignal,
): Promise<CheckedSource> {
  const oldStat = await stat(oldTarPath).catch((e: unknown) => {
    throw fsError(e, oldTarPath, 'old archive');
  });
  const wrongSource = (got: string): DataError =>
    new DataError(
      'PATCH_WRONG_SOURCE',
      `${oldTarPath} is not the archive this patch applies to (${got}; the patch expects ${header.source.length} bytes with sha256 ${header.source.sha256}); use the matching old archive or download the full archive`,
    );
  if (oldStat.size !== header.source.length) throw wrongSource(`it has ${oldStat.size} bytes`);
  const regions = regionsOf(header.transforms.source);
  const { digest, at } = await hashSource(oldTarPath, oldStat.size, regions, overlayPath, signal);
  if (digest.sha256 !== header.source.sha256) throw wrongSource(`its sha256 is ${digest.sha256}`);
  return { regions, at };
}

/** Opens the patch's three compressed body streams as readers; `streams` collects what to destroy. */
function openBodyStreams(
  patchPath: string,
  header: PatchHeader,
  streams: { destroy(): void }[],
): [control: ByteReader, diff: ByteReader, extra: ByteReader] {
  const readers: ByteReader[] = [];
  let start = header.bodyStart;
  for (const name of STREAMS) {
    readers.push(
      openStream(patchPath, start, header.compressed[name], header.uncompressed[name], name, streams),
    );
    start += header.compressed[name];
  }
  return readers as [ByteReader, ByteReader, ByteReader];
}

/** Opens one compressed body stream (`length` bytes from `start`) as a reader. */
function openStream(
  patchPath: string,
  start: number,
  length: number,
  uncompressed: number,
  name: string,
  streams: { destroy(): void }[],
): ByteReader {
  if (length === 0) {
    // Zero bytes are not a brotli stream (the shortest has one byte), and no read stream can be
    // made for an empty range: the stream fails as corrupt when it is read.
    const none: AsyncIterator<Buffer> = {
      next: () => Promise.reject(new Error('a compressed stream of 0 bytes')),
    };
    return new ByteReader(none, uncompressed, name);
  }
  const file = createReadStream(patchPath, { start, end: start + length - 1, highWaterMark: 256 << 10 });
  const z = createBrotliDecompress();
  // A stream that fails before it is read (corrupt bytes behind a valid checksum) must not crash
  // the process with an unhandled 'error': the reader gets the error when it reads.
  z.on('error', () => undefined);
  file.on('error', (e) => z.destroy(e));
  file.pipe(z);
  streams.push(file, z);
  return new ByteReader(z[Symbol.asyncIterator]() as AsyncIterator<Buffer>, uncompressed, name);
}

/**
 * For a patch that predicts references (docs/patch-format.md, kinds 4, 5, 7): reads the control
 * stream once before the result is written and collects its matched runs, the map every
 * prediction goes through. Memory: at most MAX_SEGMENTS runs (a patch needing more is refused).
 */
async function readPredictor(patchPath: string, header: PatchHeader): Promise<Predictor | undefined> {
  const sourceRefs = refEntries(header.transforms.source);
  if (sourceRefs.length === 0 || refEntries(header.transforms.result).length === 0) return undefined;
  const streams: { destroy(): void }[] = [];
  try {
    const control = openStream(
      patchPath,
      header.bodyStart,
      header.compressed.control,
      header.uncompressed.control,
      'control',
      streams,
    );
    const segments = new SegmentList(sourceRefs);
    const total = header.result.length;
    let outPos = 0;
    let oldPos = 0;
    while (outPos < total) {
      const rec = await readControlVarint(control);
      if (rec === undefined) break; // the second reading says what is wrong
      const op = rec % 4;
      const len = (rec - op) / 4;
      if (op === OP_SEEK || op === OP_INSERT) segments.end();
      if (op === OP_SEEK) {
        oldPos += unzigzag(len);
        continue;
      }
      if (len > total - outPos) throw corrupt('it produces more bytes than the result has');
      if (op !== OP_INSERT) {
        segments.add(outPos, oldPos, len);
        oldPos += len;
      }
      outPos += len;
    }
    segments.end();
    if (segments.overflow) throw corrupt('it has too many matched runs for its reference prediction');
    return new Predictor(header.transforms.source, header.transforms.result, new EquivalenceMap(segments));
  } finally {
    for (const z of streams) z.destroy();
  }
}

/**
 * Undoes the result's transform on bytes of the result as they stream out: `push` gets
 * buf[0, length) holding result bytes from offset `pos` and returns how many of them are final
 * (the rest are passed again at the start of the next buffer). RegionCoder is one.
 */
export interface ResultDecoder {
  push(buf: Buffer, pos: number, length: number, last: boolean): number;
}

/**
 * The result as it is produced: filled through `out` and `fill`, decoded, hashed and written to
 * `fh`. Two output buffers: one is written (on the thread pool) and hashed while the other fills.
 */
class ResultSink {
  private readonly buffers = [Buffer.allocUnsafe(OUT_CHUNK), Buffer.allocUnsafe(OUT_CHUNK)] as const;
  private current = 0;
  private writing: Promise<void> = Promise.resolve();
  private readonly hash: Hash = createHash('sha256');
  /** The buffer being filled, and the bytes waiting in it. */
  out: Buffer = this.buffers[0];
  fill = 0;
  /** Bytes of the result produced. */
  outPos = 0;

  constructor(
    private readonly fh: FileHandle,
    readonly total: number,
    private readonly decoder: ResultDecoder | undefined,
    private readonly options: ApplyPatchOptions,
  ) {}

  private async writeAll(buf: Buffer, n: number): Promise<void> {
    let o = 0;
    while (o < n) o += (await this.fh.write(buf, o, n - o)).bytesWritten;
  }

  async flush(last: boolean): Promise<void> {
    await this.writing;
    const full = this.out;
    const n =
      this.decoder === undefined
        ? this.fill
        : this.decoder.push(full, this.outPos - this.fill, this.fill, last);
    this.writing = this.writeAll(full, n);
    this.writing.catch(() => undefined); // awaited on the next flush; do not report it twice
    this.hash.update(full.subarray(0, n));
    this.current = 1 - this.current;
    this.out = this.buffers[this.current] as Buffer;
    full.copy(this.out, 0, n, this.fill);
    this.fill -= n;
    this.options.onProgress?.(this.outPos, this.total);
    this.options.signal?.throwIfAborted();
  }

  /** Flushes the rest and waits for the last write; the digest of all that was written. */
  async finish(): Promise<Digest> {
    await this.flush(true);
    await this.writing;
    return { sha256: this.hash.digest('hex'), length: this.outPos };
  }
}

/** One control record (a varint); undefined at the end of the control stream. */
async function readControlVarint(control: ByteReader): Promise<number | undefined> {
  let v = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    if (control.available === 0 && !(await control.fill())) {
      if (i === 0) return undefined;
      throw corrupt('a control record is cut short');
    }
    const b = control.byte();
    v += (b % 128) * scale;
    if (b < 128) {
      if (!Number.isSafeInteger(v)) throw corrupt('a control record is out of range');
      return v;
    }
    scale *= 128;
  }
  throw corrupt('a control record is too long');
}

/**
 * Runs the control records until the result is complete: seeks in the old archive, copies from it
 * (with the diff stream added for ADD) and inserts from the extra stream, into `sink`.
 */
async function runControl(
  [control, diff, extra]: readonly [ByteReader, ByteReader, ByteReader],
  old: OldReader,
  sink: ResultSink,
  srcLen: number,
  predictor?: Predictor,
): Promise<void> {
  const total = sink.total;
  const ahead = Buffer.alloc(8);
  let oldPos = 0;
  while (sink.outPos < total) {
    const rec = await readControlVarint(control);
    if (rec === undefined) throw corrupt('it ends before the result is complete');
    const op = rec % 4;
    const len = (rec - op) / 4;
    if (op === 3) {
      const to = oldPos + unzigzag(len);
      if (to < 0 || to > srcLen) throw corrupt('it seeks outside the old archive');
      oldPos = to;
      continue;
    }
    if (len > total - sink.outPos) throw corrupt('it produces more bytes than the result has');
    if (op !== OP_INSERT && len > srcLen - oldPos) throw corrupt('it reads past the end of the old archive');
    let left = len;
    const predict = op === OP_ADD && predictor !== undefined;
    if (predict) predictor.begin(oldPos, sink.outPos, len);
    while (left > 0) {
      if (sink.fill === OUT_CHUNK) await sink.flush(false);
      const c = Math.min(left, OUT_CHUNK - sink.fill);
      if (op === OP_COPY || op === OP_ADD) {
        await old.copyTo(sink.out, sink.fill, oldPos, c);
        if (predict) {
          // The differences are taken from the old bytes with their references predicted.
          const k = Math.min(8, left - c);
          if (k > 0) await old.copyTo(ahead, 0, oldPos + c, k);
          predictor.piece(sink.out, sink.fill, oldPos, c, ahead);
        }
        if (op === OP_ADD) await diff.addInto(sink.out, sink.fill, c);
        oldPos += c;
      } else {
        await extra.readInto(sink.out, sink.fill, c);
      }
      sink.fill += c;
      sink.outPos += c;
      left -= c;
    }
  }
}

async function openOrFail(path: string, flags: 'r' | 'w', what: string): Promise<FileHandle> {
  return open(path, flags).catch((e: unknown) => {
    throw fsError(e, path, what);
  });
}

/**
 * Streams the result of the patch into a temp file beside `outPath`, checks its sha256 and renames
 * it to `outPath`. On failure the temp file is removed.
 */
async function writeResult(
  oldTarPath: string,
  patchPath: string,
  outPath: string,
  header: PatchHeader,
  source: CheckedSource & { readonly overlayPath: string },
  options: ApplyPatchOptions,
): Promise<Digest> {
  const partial = tempPathFor(outPath);
  const streams: { destroy(): void }[] = [];
  let oldFh: FileHandle | undefined;
  let outFh: FileHandle | undefined;
  let ovFh: FileHandle | undefined;
  try {
    const readers = openBodyStreams(patchPath, header, streams);
    oldFh = await openOrFail(oldTarPath, 'r', 'old archive');
    outFh = await openOrFail(partial, 'w', 'output');
    if (source.regions.length > 0) ovFh = await openOrFail(source.overlayPath, 'r', 'temporary file');
    const overlay = ovFh === undefined ? undefined : { regions: source.regions, at: source.at, fd: ovFh.fd };
    const old = new OldReader(oldFh, header.source.length, overlay);
    // The result's code regions are decoded as the result streams out (a few bytes are held back
    // when an instruction straddles two output buffers).
    const resultRegions = regionsOf(header.transforms.result);
    const decoder = resultRegions.length > 0 ? new RegionCoder(resultRegions, -1) : undefined;
    const sink = new ResultSink(outFh, header.result.length, decoder, options);
    const predictor = await readPredictor(patchPath, header);
    await runControl(readers, old, sink, header.source.length, predictor);
    const got = await sink.finish();
    for (const reader of readers) await reader.expectEnd();
    await outFh.sync();
    await outFh.close();
    outFh = undefined;
    if (!sameDigest(got, header.result)) {
      throw new DataError(
        'PATCH_RESULT_MISMATCH',
        `applying the patch gave an archive whose sha256 (${got.sha256}) is not the one the patch promises (${header.result.sha256}); the patch is corrupt: download the full archive`,
      );
    }
    await rename(partial, outPath).catch((e: unknown) => {
      throw fsError(e, outPath, 'output');
    });
    return got;
  } catch (error) {
    await outFh?.close().catch(() => undefined);
    outFh = undefined;
    await rm(partial, { force: true });
    throw error;
  } finally {
    for (const s of streams) s.destroy();
    await oldFh?.close();
    await ovFh?.close();
  }
}

/**
 * Applies `patchPath` to `oldTarPath` and writes the result to `outPath`. Order of checks: the patch
 * header (and the signed digests, when given), the patch checksum, the old archive's size and
 * sha256; then the result is streamed into a temp file beside `outPath` (src/io's temp name), its
 * sha256 checked, and only then renamed to `outPath`. On any failure neither `outPath` nor the
 * temp file is left.
 */
export async function applyPatch(
  oldTarPath: string,
  patchPath: string,
  outPath: string,
  options: ApplyPatchOptions = {},
): Promise<Digest> {
  const { header, raw } = await readPatchHeaderFull(patchPath);
  checkAgainstMetadata(patchPath, header, options);
  await verifyChecksum(patchPath, raw, header, options.signal);
  const overlayPath = tempPathFor(outPath);
  try {
    const source = await checkSource(oldTarPath, header, overlayPath, options.signal);
    return await writeResult(oldTarPath, patchPath, outPath, header, { ...source, overlayPath }, options);
  } finally {
    await rm(overlayPath, { force: true });
  }
}
