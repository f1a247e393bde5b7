/**
 * The client side of the TUF conformance suite's command-line protocol, on top of the client's TUF
 * layer (src/client/tuf), not a separate TUF implementation:
 *
 *   CMD --metadata-dir MD init TRUSTED_ROOT
 *   CMD --metadata-url URL --metadata-dir MD refresh
 *   CMD --metadata-url URL --metadata-dir MD --target-name P [--target-name P2 ...] \
 *       --target-dir TD --target-base-url URL download
 *
 * Exit code 0 on success and exactly 1 on any failure (usage errors included, as the protocol asks).
 * The executable is bin/tuf-conformance, which runs this file bundled by esbuild (not a TypeScript
 * loader): a test harness, kept out of src/ so it never ships in the package.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createFetcher, type Fetcher } from '../src/client/fetcher.js';
import { TufClient, verifyTargetFile } from '../src/client/tuf/index.js';
import { DataError, NotsotufError, UsageError, messageOf } from '../src/errors.js';

export interface ConformanceIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** The network seam (tests may pass their own); defaults to a real fetcher. */
  fetcher?: Fetcher;
}

const USAGE = `Usage:
  tuf-conformance --metadata-dir MD init TRUSTED_ROOT
  tuf-conformance --metadata-url URL --metadata-dir MD refresh
  tuf-conformance --metadata-url URL --metadata-dir MD --target-name P [--target-name P2 ...]
                  --target-dir TD --target-base-url URL download
Options: --days-in-future N (check expiry as if N days later; for testing)
`;

/**
 * Temp files of downloads in progress carry this prefix; leftovers of a killed run are removed.
 * `#` never appears in an encodeURIComponent result, so no target's file name can start with it.
 */
const PARTIAL_PREFIX = '#partial-';

/** One flat file name per target path, always the same; never `.` or `..` (which would leave the folder). */
export function localTargetName(path: string): string {
  const encoded = encodeURIComponent(path);
  return encoded === '.' || encoded === '..' || encoded === ''
    ? encoded.replaceAll('.', '%2E') || '%00'
    : encoded;
}

export async function runTufConformance(argv: readonly string[], io: ConformanceIo): Promise<number> {
  try {
    const message = await run(argv, io);
    io.stdout.write(`${message}\n`);
    return 0;
  } catch (error) {
    const text = error instanceof NotsotufError ? error.message : `unexpected failure: ${messageOf(error)}`;
    io.stderr.write(`tuf-conformance: ${text}\n`);
    if (error instanceof UsageError) io.stderr.write(USAGE);
    return 1;
  }
}

async function run(argv: readonly string[], io: ConformanceIo): Promise<string> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'metadata-dir': { type: 'string' },
        'metadata-url': { type: 'string' },
        'target-name': { type: 'string', multiple: true },
        'target-dir': { type: 'string' },
        'target-base-url': { type: 'string' },
        'days-in-future': { type: 'string' },
      },
    });
  } catch (cause) {
    throw new UsageError('BAD_ARGUMENTS', messageOf(cause), { cause });
  }
  const v = parsed.values;
  const [command, ...rest] = parsed.positionals;
  const metadataDir = required(v['metadata-dir'], '--metadata-dir');
  const days = v['days-in-future'] === undefined ? 0 : Number(v['days-in-future']);
  if (!Number.isFinite(days)) throw new UsageError('BAD_ARGUMENTS', '--days-in-future must be a number');
  const now = days === 0 ? undefined : () => new Date(Date.now() + days * 86_400_000);

  if (command === 'init') {
    if (rest.length !== 1) throw new UsageError('BAD_ARGUMENTS', 'init takes one argument: TRUSTED_ROOT');
    const rootFile = rest[0]!;
    let bytes: Buffer;
    try {
      bytes = await readFile(rootFile);
    } catch (cause) {
      throw new UsageError('BAD_ARGUMENTS', `Cannot read ${rootFile}: ${messageOf(cause)}`, { cause });
    }
    await TufClient.initialize(metadataDir, bytes);
    return `Initialized ${metadataDir} with the trusted root from ${rootFile}`;
  }
  if (command === 'refresh' && rest.length === 0) {
    const client = makeClient(metadataDir, required(v['metadata-url'], '--metadata-url'), '', io, now);
    await client.refresh();
    return `Refreshed the metadata in ${metadataDir}`;
  }
  if (command === 'download' && rest.length === 0) {
    const names = v['target-name'] ?? [];
    if (names.length === 0)
      throw new UsageError('BAD_ARGUMENTS', 'download needs at least one --target-name');
    const targetDir = required(v['target-dir'], '--target-dir');
    const client = makeClient(
      metadataDir,
      required(v['metadata-url'], '--metadata-url'),
      required(v['target-base-url'], '--target-base-url'),
      io,
      now,
    );
    // The README's commands start in an empty folder: the target folder may not exist yet.
    await mkdir(targetDir, { recursive: true });
    await removeLeftovers(targetDir);
    // One refresh, one updater, every target in order; the first failure stops the run.
    await client.refresh();
    const lines: string[] = [];
    for (const name of names)
      lines.push(await downloadOne(client, io.fetcher ?? createFetcher(), name, targetDir));
    return lines.join('\n');
  }
  throw new UsageError(
    'BAD_ARGUMENTS',
    `unknown or malformed command: ${parsed.positionals.join(' ') || '(none)'}`,
  );
}

function required(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new UsageError('BAD_ARGUMENTS', `${name} is required`);
  return value;
}

function makeClient(
  metadataDir: string,
  metadataUrl: string,
  targetsUrl: string,
  io: ConformanceIo,
  now: (() => Date) | undefined,
): TufClient {
  return new TufClient({
    metadataDir,
    metadataUrl,
    targetsUrl,
    fetcher: io.fetcher ?? createFetcher(),
    ...(now === undefined ? {} : { now }),
  });
}

async function downloadOne(
  client: TufClient,
  fetcher: Fetcher,
  name: string,
  targetDir: string,
): Promise<string> {
  const target = await client.getTarget(name);
  if (target === undefined)
    throw new DataError('NO_SUCH_TARGET', `No trusted targets metadata lists "${name}".`);
  const finalPath = join(targetDir, localTargetName(name));
  if (await isFile(finalPath)) {
    try {
      await verifyTargetFile(finalPath, target);
      return `${name}: already downloaded and verified`;
    } catch {
      // A stale or damaged copy: download it again below.
    }
  }
  const partial = join(targetDir, `${PARTIAL_PREFIX}${randomBytes(8).toString('hex')}.partial`);
  try {
    await fetcher.downloadTo(client.targetUrl(target), partial, { offset: 0, maxLength: target.length });
    await verifyTargetFile(partial, target);
    await rename(partial, finalPath);
  } finally {
    await rm(partial, { force: true });
  }
  return `${name}: downloaded and verified`;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

async function removeLeftovers(targetDir: string): Promise<void> {
  const names = await readdir(targetDir).catch(() => [] as string[]);
  await Promise.all(
    names.filter((n) => n.startsWith(PARTIAL_PREFIX)).map((n) => rm(join(targetDir, n), { force: true })),
  );
}
