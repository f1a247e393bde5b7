import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Digest } from '../core/custom-metadata.js';
import { DataError, InstallError, NotsotufError, UsageError, messageOf } from '../errors.js';
import { writeFilesAtomic } from '../io/atomic-write.js';
import { fsError, isFileSystemError } from '../io/fs-error.js';

/**
 * Decompresses `archivePath` to `tarPath` (temp name, then rename), hashing on the way. With
 * `expected`, stops as soon as the output grows past `expected.length` (a gzip bomb costs no more
 * than the signed size) and refuses a digest that differs; nothing is left under `tarPath` then.
 */
export async function gunzipTo(
  archivePath: string,
  tarPath: string,
  expected?: Digest,
  options: { signal?: AbortSignal; onProgress?: (tarBytes: number) => void } = {},
): Promise<Digest> {
  try {
    return await writeFilesAtomic([tarPath], async ([temp]) => {
      const hash = createHash('sha256');
      let length = 0;
      const count = new Transform({
        transform(chunk: Buffer, _enc, done) {
          length += chunk.length;
          if (expected && length > expected.length) {
            return done(
              new DataError(
                'TAR_DIGEST_MISMATCH',
                `${archivePath} decompresses to more than the ${expected.length} bytes its signed metadata allows: the archive is corrupt or tampered with; download it again`,
              ),
            );
          }
          hash.update(chunk);
          options.onProgress?.(length);
          done(null, chunk);
        },
      });
      await pipeline(
        createReadStream(archivePath),
        createGunzip(),
        count,
        createWriteStream(temp as string, { flags: 'wx', flush: true }),
        { signal: options.signal },
      );
      const got: Digest = { sha256: hash.digest('hex'), length };
      if (expected && (got.sha256 !== expected.sha256 || got.length !== expected.length)) {
        throw new DataError(
          'TAR_DIGEST_MISMATCH',
          `${archivePath} decompresses to a tar with sha256 ${got.sha256} (${got.length} bytes), not the signed ${expected.sha256} (${expected.length} bytes): the archive is corrupt or tampered with; download it again`,
        );
      }
      return got;
    });
  } catch (error) {
    if (error instanceof NotsotufError || (error instanceof Error && error.name === 'AbortError'))
      throw error;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_')) {
      throw new DataError(
        'ARCHIVE_CORRUPT',
        `${archivePath} is not a valid gzip file (${messageOf(error)}): download it again`,
        {
          cause: error,
        },
      );
    }
    if (code === 'ENOENT' && (error as NodeJS.ErrnoException).path === archivePath) {
      throw new UsageError('ARCHIVE_NOT_FOUND', `archive ${archivePath} does not exist`, { cause: error });
    }
    const message = `could not decompress ${archivePath} to ${tarPath}: ${messageOf(error)}`;
    if (isFileSystemError(error))
      throw fsError(error, tarPath, { code: 'ARCHIVE_WRITE_FAILED', message: () => message });
    throw new InstallError('ARCHIVE_WRITE_FAILED', message, {
      cause: error,
    });
  }
}
