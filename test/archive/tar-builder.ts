/**
 * Builds raw tar bytes for tests, header by header, independently of src/archive's writer, so
 * hostile archives can say anything a real attacker's tar could.
 */
import assert from 'node:assert/strict';
import { readdir, rm, writeFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataError } from '../../src/errors.js';
import { unpackArchive } from '../../src/archive/index.js';
import { tempDir as tempDirRemovedAfter } from '../support/temp-dir.js';
import type { UnpackLimits } from '../../src/archive/index.js';

export interface RawEntry {
  name: string;
  /** typeflag character; '0' by default */
  type?: string;
  data?: Buffer | string;
  linkname?: string;
  mode?: number;
  /** size field to write instead of the data length (lying headers) */
  size?: number;
  prefix?: string;
  /** pax records to put in an 'x' header before this entry */
  pax?: Record<string, string>;
}

function put(block: Buffer, offset: number, width: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  bytes.copy(block, offset, 0, Math.min(width, bytes.length));
}

function oct(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

export function header(e: {
  name: string;
  type: string;
  size: number;
  mode?: number;
  linkname?: string;
  prefix?: string;
}): Buffer {
  const h = Buffer.alloc(512);
  put(h, 0, 100, e.name);
  put(h, 100, 8, oct(e.mode ?? 0o644, 8));
  put(h, 108, 8, oct(0, 8));
  put(h, 116, 8, oct(0, 8));
  put(h, 124, 12, oct(e.size, 12));
  put(h, 136, 12, oct(946684800, 12));
  h.fill(0x20, 148, 156);
  put(h, 156, 1, e.type);
  put(h, 157, 100, e.linkname ?? '');
  put(h, 257, 6, 'ustar\0');
  put(h, 263, 2, '00');
  put(h, 345, 155, e.prefix ?? '');
  let sum = 0;
  for (const b of h) sum += b;
  put(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

function pad(n: number): Buffer {
  return Buffer.alloc((512 - (n % 512)) % 512);
}

function paxData(records: Record<string, string>): Buffer {
  let out = '';
  for (const [k, v] of Object.entries(records)) {
    const body = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(body) + 1;
    while (String(len).length + Buffer.byteLength(body) !== len)
      len = String(len).length + Buffer.byteLength(body);
    out += `${len}${body}`;
  }
  return Buffer.from(out);
}

/** A tar of `entries`, ended by two zero blocks unless `end` is false. */
export function rawTar(entries: RawEntry[], opts: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.pax) {
      const d = paxData(e.pax);
      parts.push(header({ name: '././@PaxHeader', type: 'x', size: d.length }), d, pad(d.length));
    }
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0));
    const type = e.type ?? '0';
    parts.push(
      header({
        name: e.name,
        type,
        size: e.size ?? data.length,
        mode: e.mode ?? (type === '5' ? 0o755 : 0o644),
        linkname: e.linkname,
        prefix: e.prefix,
      }),
      data,
      pad(data.length),
    );
  }
  if (opts.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function gz(tar: Buffer): Buffer {
  return gzipSync(tar);
}

export function tempDir(): Promise<string> {
  return tempDirRemovedAfter('notsotuf-archive-test-');
}

/** Every path under `dir` (relative, sorted), not following symlinks. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const p = rel === '' ? name : `${rel}/${name}`;
      out.push(p);
      if ((await lstat(join(dir, p))).isDirectory()) await walk(p);
    }
  };
  await walk('');
  return out;
}

/**
 * Unpacks `archive` (bytes) into <tmp>/stage and asserts: a DataError with `code` (and a message
 * matching `message` when given), the staging folder is gone, and nothing else under the temp root
 * (where escapes would land) changed. `prepare(root)` may create files an attack targets.
 */
export async function assertRefused(
  archive: Buffer | ((root: string) => Buffer),
  code: string,
  opts: {
    message?: RegExp;
    limits?: Partial<UnpackLimits>;
    prepare?: (root: string) => Promise<void>;
    gzip?: boolean;
  } = {},
): Promise<void> {
  const root = await tempDir();
  try {
    await opts.prepare?.(root);
    const archivePath = join(root, opts.gzip ? 'evil.tar.gz' : 'evil.tar');
    const bytes = typeof archive === 'function' ? archive(root) : archive;
    await writeFile(archivePath, opts.gzip ? gz(bytes) : bytes);
    const before = await listTree(root);
    const staging = join(root, 'stage');
    await assert.rejects(unpackArchive(archivePath, staging, { limits: opts.limits }), (e: unknown) => {
      assert.ok(e instanceof DataError, `expected DataError, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      if (opts.message) assert.match(e.message, opts.message);
      return true;
    });
    await assert.rejects(lstat(staging), { code: 'ENOENT' }, 'the staging folder must be removed');
    assert.deepEqual(await listTree(root), before, 'nothing may be written outside the staging folder');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Writes a raw tar to a temp root and unpacks it, for tests that expect success. */
export async function unpackBytes(archive: Buffer): Promise<{ root: string; staging: string }> {
  const root = await tempDir();
  const archivePath = join(root, 'ok.tar');
  await writeFile(archivePath, archive);
  const staging = join(root, 'stage');
  await unpackArchive(archivePath, staging);
  return { root, staging };
}
