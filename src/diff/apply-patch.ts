import { createHash } from 'node:crypto';
import { createReadStream, readSync } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { createBrotliDecompress } from 'node:zlib';
import { DataError } from '../errors.js';
import { ByteReader } from './byte-reader.js';
import { tempPathFor } from '../io/temp-name.js';
import { digestFile, fsError } from './file-io.js';
import { MAX_INSN, RegionCoder, type Region } from './exe-transform.js';
import { OP_ADD, OP_COPY, OP_INSERT, STREAMS, type Digest, type PatchHeader } from './format.js';
import { readPatchHeaderFull } from './read-patch-header.js';
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
const OLD_WINDOW = 64 << 10;

function sameDigest(a: Digest, b: Digest): boolean {
  return a.length === b.length && a.sha256.toLowerCase() === b.sha256.toLowerCase();
}

/**
 * Positional reads of the old archive. Large reads go straight into the output; small ones are
 * served from a 64 KB window. Window refills are synchronous reads: patches of executables seek
 * all over the old archive in small steps, and a thread-pool round trip per 64 KB read costs more
 * than the read itself (from the page cache, the old archive was just hashed).
 */
class OldReader {
  private readonly win = Buffer.allocUnsafe(OLD_WINDOW);
  private start = 0;
  private end = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
    /** The source's transformed code regions, and where their bytes are in the overlay file. */
    private readonly overlay?: {
      readonly regions: readonly Region[];
      readonly at: readonly number[];
      readonly fd: number;
    },
  ) {}

  /** Replaces target[o, o + n) (source bytes from `pos`) by the transformed bytes where they overlap a region. */
  private applyOverlay(target: Buffer, o: number, pos: number, n: number): void {
    const ov = this.overlay;
    if (ov === undefined || ov.regions.length === 0) return;
    // The first region ending after pos (binary search on starts).
    let lo = 0;
    let hi = ov.regions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = ov.regions[mid] as Region;
      if (r.start + r.length <= pos) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < ov.regions.length; k++) {
      const r = ov.regions[k] as Region;
      if (r.start >= pos + n) break;
      const from = Math.max(r.start, pos);
      const to = Math.min(r.start + r.length, pos + n);
      let got = 0;
      while (got < to - from) {
        const b = readSync(
          ov.fd,
          target,
          o + from - pos + got,
          to - from - got,
          (ov.at[k] as number) + from - r.start + got,
        );
        if (b === 0) throw this.changed();
        got += b;
      }
    }
  }

  private changed(): DataError {
    return new DataError(
      'PATCH_SOURCE_CHANGED',
      'the old archive changed while the patch was applied; try again',
    );
  }

  async copyTo(target: Buffer, offset: number, pos: number, n: number): Promise<void> {
    let o = offset;
    let p = pos;
    let left = n;
    while (left > 0) {
      if (p >= this.start && p < this.end) {
        const c = Math.min(left, this.end - p);
        this.win.copy(target, o, p - this.start, p - this.start + c);
        o += c;
        p += c;
        left -= c;
      } else if (left >= OLD_WINDOW) {
        const o0 = o;
        const p0 = p;
        const n0 = left;
        while (left > 0) {
          const { bytesRead } = await this.fh.read(target, o, left, p);
          if (bytesRead === 0) throw this.changed();
          o += bytesRead;
          p += bytesRead;
          left -= bytesRead;
        }
        this.applyOverlay(target, o0, p0, n0);
      } else {
        const want = Math.min(OLD_WINDOW, this.size - p);
        let got = 0;
        while (got < want) {
          const bytesRead = readSync(this.fh.fd, this.win, got, want - got, p + got);
          if (bytesRead === 0) throw this.changed();
          got += bytesRead;
        }
        this.applyOverlay(this.win, 0, p, want);
        this.start = p;
        this.end = p + want;
      }
    }
  }
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
  const { signal } = options;
  const { header, raw } = await readPatchHeaderFull(patchPath);
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
  await verifyChecksum(patchPath, raw, header, signal);

  const oldStat = await stat(oldTarPath).catch((e: unknown) => {
    throw fsError(e, oldTarPath, 'old archive');
  });
  const wrongSource = (got: string): DataError =>
    new DataError(
      'PATCH_WRONG_SOURCE',
      `${oldTarPath} is not the archive this patch applies to (${got}; the patch expects ${header.source.length} bytes with sha256 ${header.source.sha256}); use the matching old archive or download the full archive`,
    );
  if (oldStat.size !== header.source.length) throw wrongSource(`it has ${oldStat.size} bytes`);
  const partial = tempPathFor(outPath);
  const overlayPath = tempPathFor(outPath);
  const sourceRegions = regionsOf(header.transforms.source);
  const resultRegions = regionsOf(header.transforms.result);
  let source;
  try {
    source = await hashSource(oldTarPath, oldStat.size, sourceRegions, overlayPath, signal);
  } catch (error) {
    await rm(overlayPath, { force: true });
    throw error;
  }
  const oldDigest = source.digest;
  if (oldDigest.sha256 !== header.source.sha256) {
    await rm(overlayPath, { force: true });
    throw wrongSource(`its sha256 is ${oldDigest.sha256}`);
  }

  const readers: ByteReader[] = [];
  const streams: { destroy(): void }[] = [];
  let oldFh: FileHandle | undefined;
  let outFh: FileHandle | undefined;
  let ovFh: FileHandle | undefined;
  try {
    let start = header.bodyStart;
    for (const name of STREAMS) {
      const length = header.compressed[name];
      const file = createReadStream(patchPath, { start, end: start + length - 1, highWaterMark: 256 << 10 });
      const z = createBrotliDecompress();
      file.on('error', (e) => z.destroy(e));
      // An empty range still has to decompress to an empty stream; feed nothing and end.
      if (length === 0) {
        file.destroy();
        z.end();
      } else file.pipe(z);
      streams.push(file, z);
      readers.push(
        new ByteReader(z[Symbol.asyncIterator]() as AsyncIterator<Buffer>, header.uncompressed[name], name),
      );
      start += length;
    }
    const [control, diff, extra] = readers as [ByteReader, ByteReader, ByteReader];
    oldFh = await open(oldTarPath, 'r').catch((e: unknown) => {
      throw fsError(e, oldTarPath, 'old archive');
    });
    outFh = await open(partial, 'w').catch((e: unknown) => {
      throw fsError(e, partial, 'output');
    });
    if (sourceRegions.length > 0) {
      ovFh = await open(overlayPath, 'r').catch((e: unknown) => {
        throw fsError(e, overlayPath, 'temporary file');
      });
    }
    const old = new OldReader(
      oldFh,
      header.source.length,
      ovFh === undefined ? undefined : { regions: sourceRegions, at: source.at, fd: ovFh.fd },
    );
    // The result's code regions are decoded as the result streams out (a few bytes are held back
    // when an instruction straddles two output buffers).
    const coder = resultRegions.length > 0 ? new RegionCoder(resultRegions, -1) : undefined;
    // Two output buffers: one is written (on the thread pool) and hashed while the other fills.
    const buffers = [Buffer.allocUnsafe(OUT_CHUNK), Buffer.allocUnsafe(OUT_CHUNK)] as const;
    let current = 0;
    let out: Buffer = buffers[0];
    let writing: Promise<void> = Promise.resolve();
    const hash = createHash('sha256');
    const total = header.result.length;
    const srcLen = header.source.length;
    let outPos = 0; // bytes of the result produced
    let fill = 0; // bytes waiting in `out`
    let oldPos = 0;
    const fh = outFh;

    const writeAll = async (buf: Buffer, n: number): Promise<void> => {
      let o = 0;
      while (o < n) o += (await fh.write(buf, o, n - o)).bytesWritten;
    };

    const flushOut = async (last: boolean): Promise<void> => {
      await writing;
      const full = out;
      const n = coder === undefined ? fill : coder.push(full, outPos - fill, fill, last);
      writing = writeAll(full, n);
      writing.catch(() => undefined); // awaited on the next flush; do not report it twice
      hash.update(full.subarray(0, n));
      current = 1 - current;
      out = buffers[current] as Buffer;
      full.copy(out, 0, n, fill);
      fill -= n;
      options.onProgress?.(outPos, total);
      signal?.throwIfAborted();
    };

    const readVarint = async (): Promise<number | undefined> => {
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
    };

    while (outPos < total) {
      const rec = await readVarint();
      if (rec === undefined) throw corrupt('it ends before the result is complete');
      const op = rec % 4;
      const len = (rec - op) / 4;
      if (op === 3) {
        const to = oldPos + unzigzag(len);
        if (to < 0 || to > srcLen) throw corrupt('it seeks outside the old archive');
        oldPos = to;
        continue;
      }
      if (len > total - outPos) throw corrupt('it produces more bytes than the result has');
      if (op !== OP_INSERT && len > srcLen - oldPos)
        throw corrupt('it reads past the end of the old archive');
      let left = len;
      while (left > 0) {
        if (fill === OUT_CHUNK) await flushOut(false);
        const c = Math.min(left, OUT_CHUNK - fill);
        if (op === OP_COPY || op === OP_ADD) {
          await old.copyTo(out, fill, oldPos, c);
          if (op === OP_ADD) await diff.addInto(out, fill, c);
          oldPos += c;
        } else {
          await extra.readInto(out, fill, c);
        }
        fill += c;
        outPos += c;
        left -= c;
      }
    }
    await flushOut(true);
    await writing;
    await control.expectEnd();
    await diff.expectEnd();
    await extra.expectEnd();
    await outFh.sync();
    await outFh.close();
    outFh = undefined;
    const got: Digest = { sha256: hash.digest('hex'), length: outPos };
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
    await outFh?.close();
    await ovFh?.close();
    await rm(overlayPath, { force: true });
  }
}
