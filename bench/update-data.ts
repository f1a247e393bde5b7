import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Deterministic app folders for `bench:update`: a ~160 MB "runtime plus app" (three large binaries,
 * a few hundred small modules), with content that compresses like real binaries do (a mix of
 * incompressible blocks and repetitive, text-like blocks), and a next version with the kinds of
 * changes a release makes (bytes changed in place, bytes inserted so later content shifts, a file
 * added, a file removed, small files edited).
 */

const BLOCK = 64 * 1024;
const WORDS = [
  'function',
  'return',
  'const',
  'module',
  'export',
  'import',
  'symbol',
  'table',
  'string',
  'buffer',
  'value',
  'object',
  'length',
  'offset',
  'error',
  'thread',
  'malloc',
  'free',
  'init',
  'config',
];

function blockBytes(seed: string, index: number): Buffer {
  const head = createHash('sha256').update(`${seed}:${index}`).digest();
  const out = Buffer.alloc(BLOCK);
  if (head[0]! < 110) {
    // incompressible: a sha256 counter stream
    for (let off = 0, i = 0; off < BLOCK; off += 32, i++) {
      createHash('sha256').update(head).update(String(i)).digest().copy(out, off);
    }
    return out;
  }
  // text-like: lines of words picked by the hash
  let off = 0;
  let k = 0;
  while (off < BLOCK) {
    const word = WORDS[head[k % 32]! % WORDS.length]!;
    off += out.write(`${word}_${(head[(k + 7) % 32]! * 31 + k) % 997} `, off);
    if (k % 11 === 10 && off < BLOCK) off += out.write('\n', off);
    k++;
  }
  return out;
}

async function writeBlocks(
  path: string,
  seed: string,
  blocks: number,
  edit?: (i: number, b: Buffer) => Buffer,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const stream = createWriteStream(path);
  for (let i = 0; i < blocks; i++) {
    let b = blockBytes(seed, i);
    if (edit) b = edit(i, b);
    if (!stream.write(b)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => stream.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

/** Version 1 or 2 of the bench app. */
export async function writeBenchApp(folder: string, version: 1 | 2): Promise<void> {
  await rm(folder, { recursive: true, force: true });
  const v2 = version === 2;
  // In v2: 32 bytes changed every ~40 blocks, and 4 KiB inserted every ~300 blocks (shifting the rest).
  const edit = (i: number, b: Buffer): Buffer => {
    if (!v2) return b;
    if (i % 40 === 7) createHash('sha256').update(`edit${i}`).digest().copy(b, 1000);
    if (i % 300 === 150)
      return Buffer.concat([b.subarray(0, 2048), Buffer.alloc(4096, i % 251), b.subarray(2048)]);
    return b;
  };
  await writeBlocks(join(folder, 'bin', 'runtime'), 'runtime', 1280, edit); // 80 MiB
  await writeBlocks(join(folder, 'lib', 'libbig.so'), 'libbig', 800, edit); // 50 MiB
  await writeBlocks(join(folder, 'resources', 'assets.pak'), 'assets', 400, edit); // 25 MiB
  for (let m = 0; m < 300; m++) {
    if (v2 && m === 13) continue; // removed in v2
    const text = blockBytes(`module${m}`, 0)
      .subarray(0, 4000 + (m % 7) * 500)
      .toString('latin1');
    await mkdir(join(folder, 'app', 'modules', `group${m % 10}`), { recursive: true });
    await writeFile(
      join(folder, 'app', 'modules', `group${m % 10}`, `module${m}.js`),
      v2 && m % 50 === 0 ? `${text}\n// changed in v2\n` : text,
    );
  }
  if (v2) await writeBlocks(join(folder, 'app', 'new-feature.bin'), 'feature', 16);
  await writeFile(join(folder, 'version.txt'), `${version}.0.0\n`);
}
