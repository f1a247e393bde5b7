/**
 * Pack / hash / unpack timing and peak memory for app folders of several sizes.
 * Usage: npm run bench:archive -- [sizeMB ...]   (default: 100 300)
 *        npm run bench:archive -- --folder <path>   (a real folder, e.g. node_modules; copied first)
 * Each size runs in its own process so peak RSS (maxRSS) belongs to that size alone.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashFolderAsTar, packFolder, unpackArchive } from '../src/archive/index.js';

const MiB = 1024 * 1024;

/** A folder of `sizeMB` MiB: a few big binaries (half random, half text-like) and many small files. */
async function makeFolder(dir: string, sizeMB: number): Promise<void> {
  const text = Buffer.from('function update(){ return verify(signature, metadata); }\n'.repeat(20_000));
  let left = sizeMB * MiB;
  let n = 0;
  await mkdir(join(dir, 'lib'), { recursive: true });
  while (left > 0) {
    const size = Math.min(left, n % 10 === 0 ? 24 * MiB : 256 * 1024);
    const chunk = n % 2 === 0 ? randomBytes(Math.min(size, 4 * MiB)) : text;
    const parts: Buffer[] = [];
    for (let got = 0; got < size; got += chunk.length)
      parts.push(chunk.subarray(0, Math.min(chunk.length, size - got)));
    await writeFile(join(dir, 'lib', `f${n}.bin`), Buffer.concat(parts));
    left -= size;
    n++;
  }
}

/** Runs in a child process over a folder the parent made, so maxRSS is pack/hash/unpack alone. */
async function measure(root: string, label: string): Promise<void> {
  const app = join(root, 'app');
  const rssBefore = process.memoryUsage().rss;
  let t = performance.now();
  const packed = await packFolder(app, join(root, 'app.tar.gz'), { tarPath: join(root, 'app.tar') });
  const packS = (performance.now() - t) / 1000;
  t = performance.now();
  await hashFolderAsTar(app);
  const hashS = (performance.now() - t) / 1000;
  t = performance.now();
  await unpackArchive(join(root, 'app.tar.gz'), join(root, 'staging'));
  const unpackS = (performance.now() - t) / 1000;
  const maxRss = process.resourceUsage().maxRSS * 1024;
  console.log(
    `${/^[0-9]+$/.test(label) ? `${label} MiB generated folder` : label}, ${packed.entries} entries, tar ${(packed.tar.length / MiB).toFixed(0)} MiB: pack ${packS.toFixed(1)} s (tar.gz ${(packed.archive.length / MiB).toFixed(0)} MiB), ` +
      `hashFolderAsTar ${hashS.toFixed(1)} s, unpack ${unpackS.toFixed(1)} s; ` +
      `RSS at start ${(rssBefore / MiB).toFixed(0)} MiB, peak ${(maxRss / MiB).toFixed(0)} MiB`,
  );
}

const args = process.argv.slice(2);
if (args[0] === '--folder') {
  const root = await mkdtemp(join(tmpdir(), 'notsotuf-bench-archive-'));
  try {
    await cp(args[1] as string, join(root, 'app'), { recursive: true, verbatimSymlinks: true });
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--measure', root, args[1] as string],
      { stdio: 'inherit' },
    );
    if (r.status !== 0) process.exitCode = r.status ?? 1;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
} else if (args[0] === '--measure') {
  await measure(args[1] as string, args[2] as string);
} else {
  const sizes = args.length > 0 ? args.map(Number) : [100, 300];
  for (const size of sizes) {
    const root = await mkdtemp(join(tmpdir(), 'notsotuf-bench-archive-'));
    try {
      await makeFolder(join(root, 'app'), size);
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(import.meta.url), '--measure', root, String(size)],
        { stdio: 'inherit' },
      );
      if (r.status !== 0) process.exitCode = r.status ?? 1;
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
}
