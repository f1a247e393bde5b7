import { createHash } from 'node:crypto';
import { createReadStream, readSync } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { createBrotliDecompress } from 'node:zlib';
import { DataError } from '../errors.js';
import { ByteReader } from './byte-reader.js';
import { tempPathFor } from '../io/temp-name.js';
import { digestFile, fsError } from './file-io.js';
import {
  CHECKSUM_OFFSET,
  HEADER_LENGTH,
  OP_ADD,
  OP_COPY,
  OP_INSERT,
  STREAMS,
  type Digest,
  type PatchHeader,
} from './format.js';
import { readPatchHeaderFull } from './read-patch-header.js';
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
  ) {}

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
        while (left > 0) {
          const { bytesRead } = await this.fh.read(target, o, left, p);
          if (bytesRead === 0) throw this.changed();
          o += bytesRead;
          p += bytesRead;
          left -= bytesRead;
        }
      } else {
        const want = Math.min(OLD_WINDOW, this.size - p);
        let got = 0;
        while (got < want) {
          const bytesRead = readSync(this.fh.fd, this.win, got, want - got, p + got);
          if (bytesRead === 0) throw this.changed();
          got += bytesRead;
        }
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
  const hash = createHash('sha256').update(header.subarray(0, CHECKSUM_OFFSET));
  for await (const chunk of createReadStream(patchPath, {
    start: HEADER_LENGTH,
    highWaterMark: 1 << 20,
    signal,
  })) {
    hash.update(chunk as Buffer);
  }
  if (hash.digest('hex') !== h.checksum) throw corrupt('its checksum does not match its content');
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
  const oldDigest = await digestFile(oldTarPath, 'old archive', signal);
  if (oldDigest.sha256 !== header.source.sha256) throw wrongSource(`its sha256 is ${oldDigest.sha256}`);

  const partial = tempPathFor(outPath);
  const readers: ByteReader[] = [];
  const streams: { destroy(): void }[] = [];
  let oldFh: FileHandle | undefined;
  let outFh: FileHandle | undefined;
  try {
    let start = HEADER_LENGTH;
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
    const old = new OldReader(oldFh, header.source.length);
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

    const flushOut = async (): Promise<void> => {
      await writing;
      const full = out;
      const n = fill;
      writing = writeAll(full, n);
      writing.catch(() => undefined); // awaited on the next flush; do not report it twice
      hash.update(full.subarray(0, n));
      current = 1 - current;
      out = buffers[current] as Buffer;
      fill = 0;
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
        if (fill === OUT_CHUNK) await flushOut();
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
    await flushOut();
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
  }
}
