import { stat } from 'node:fs/promises';
import { relative, resolve, isAbsolute } from 'node:path';
import { UsageError } from '../../errors.js';
import type { PublishOptions, PublishResult } from '../../repo/index.js';
import {
  checkPublishDestination,
  parseS3Url,
  publishRepository,
  publishTo,
  s3Destination,
} from '../../repo/index.js';
import { formatSize } from '../format-size.js';
import type { Command, CommandContext } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { CONFIG_HELP, publisherConfig } from './keys-shared.js';

/** True when `inner` is `outer` or inside it. */
function within(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Progress lines on a terminal (stderr), one per file copied or deleted. */
function progress(ctx: CommandContext): PublishOptions['onFile'] {
  const stream = ctx.stderr as { isTTY?: boolean };
  if (stream.isTTY !== true) return undefined;
  return (rel, action, bytes) => {
    if (action !== 'skipped')
      ctx.stderr.write(`  ${action} ${rel}${bytes > 0 ? ` (${formatSize(bytes)})` : ''}\n`);
  };
}

function summary(dest: string, r: PublishResult, dryRun: boolean): string {
  if (dryRun) {
    const lines = [
      `Dry run, nothing written. A publish to ${dest} would copy ${r.copied.length} file(s) (${formatSize(r.bytes)}), ${r.skipped.length} already there${r.deleted.length > 0 ? `, and delete ${r.deleted.length}` : ''}:`,
      ...r.copied.map((rel) => `  copy ${rel}`),
      ...r.deleted.map((rel) => `  delete ${rel}`),
    ];
    return `${lines.join('\n')}\n`;
  }
  return `Published to ${dest}: ${r.copied.length} file(s) copied (${formatSize(r.bytes)}), ${r.skipped.length} already there${r.deleted.length > 0 ? `, ${r.deleted.length} pruned file(s) deleted` : ''}\n`;
}

const S3_ONLY = ['endpoint', 'region', 'path-style', 'acl', 'cache-max-age'] as const;

export const publishCommand: Command = {
  path: ['publish'],
  summary: 'Copy the verified repository to a folder or an S3 bucket in the safe order (timestamp.json last)',
  usage:
    'DEST [--delete] [--dry-run] [--unsafe-skip-verify] [--config FILE]\n       notsotuf publish s3://BUCKET/PREFIX [--endpoint URL] [--region R] [--path-style] [--acl public-read] [--cache-max-age SECONDS] [--delete] [--dry-run]',
  options: {
    config: { type: 'string' },
    delete: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    'unsafe-skip-verify': { type: 'boolean' },
    endpoint: { type: 'string' },
    region: { type: 'string' },
    'path-style': { type: 'boolean' },
    acl: { type: 'string' },
    'cache-max-age': { type: 'string' },
  },
  optionHelp: {
    ...CONFIG_HELP,
    delete: 'also delete files in DEST that the repository no longer has (after release prune)',
    'dry-run': 'list what would be copied and deleted, write nothing',
    'unsafe-skip-verify': 'copy without verifying the repository first (clients may refuse it)',
    endpoint: 'S3: a non-AWS endpoint (MinIO, R2, Ceph), e.g. https://storage.example.com',
    region: 'S3: the region (default: AWS_REGION or the profile; us-east-1 with --endpoint)',
    'path-style': 'S3: path-style URLs (ENDPOINT/BUCKET/KEY); on by default for an IP or localhost endpoint',
    acl: 'S3: canned ACL of every object, e.g. public-read (only for buckets that use ACLs)',
    'cache-max-age': 'S3: Cache-Control max-age of timestamp.json and root.json in seconds (default 60)',
  },
  async run(ctx) {
    const [destArg, extra] = ctx.positionals;
    if (destArg === undefined || extra !== undefined)
      throw new UsageError('MISSING_ARGUMENT', 'give exactly one DEST folder or s3://BUCKET/PREFIX');
    const config = await publisherConfig(ctx);
    const dryRun = ctx.values['dry-run'] === true;
    const options: PublishOptions = {
      unsafeSkipVerify: ctx.values['unsafe-skip-verify'] === true,
      deleteExtra: ctx.values.delete === true,
      dryRun,
      ...(dryRun ? {} : { onFile: progress(ctx) }),
    };
    const s3 = parseS3Url(destArg);
    if (s3 !== undefined) {
      const maxAge = ctx.values['cache-max-age'];
      if (typeof maxAge === 'string' && !/^\d{1,9}$/.test(maxAge)) {
        throw new UsageError(
          'BAD_ARGUMENTS',
          `--cache-max-age ${maxAge}: give a whole number of seconds, e.g. 60`,
        );
      }
      const destination = await s3Destination(s3, {
        ...(typeof ctx.values.endpoint === 'string' ? { endpoint: ctx.values.endpoint } : {}),
        ...(typeof ctx.values.region === 'string' ? { region: ctx.values.region } : {}),
        ...(ctx.values['path-style'] === true ? { pathStyle: true } : {}),
        ...(typeof ctx.values.acl === 'string' ? { acl: ctx.values.acl } : {}),
        ...(typeof maxAge === 'string' ? { mutableMaxAge: Number(maxAge) } : {}),
        env: ctx.env,
      });
      const r = await publishTo(config.repository, destination, options);
      ctx.stdout.write(summary(destination.display, r, dryRun));
      return EXIT.ok;
    }
    const used = S3_ONLY.filter((o) => ctx.values[o] !== undefined);
    if (used.length > 0) {
      throw new UsageError(
        'BAD_ARGUMENTS',
        `--${used.join(', --')} only apply to s3:// destinations; ${destArg} is a folder`,
      );
    }
    const dest = resolve(ctx.cwd, destArg);
    const info = await stat(dest).catch(() => undefined);
    if (info !== undefined && !info.isDirectory()) {
      throw new UsageError(
        'DEST_NOT_A_FOLDER',
        `${dest} is a file, not a folder: pass the folder to publish to`,
      );
    }
    // The published folder is served to everyone: no key folder or private key (checked again by
    // publishRepository), and no project file either.
    await checkPublishDestination(dest, config.keys);
    for (const [what, path] of [['project file', config.file]] as const) {
      if (within(dest, path)) {
        throw new UsageError(
          'DEST_HOLDS_KEYS',
          `${dest} contains the ${what} ${path}: publish to a folder of its own (it is served to everyone), e.g. ../published`,
        );
      }
    }
    ctx.stdout.write(
      summary(
        dest,
        await publishRepository(config.repository, dest, { ...options, keyDir: config.keys }),
        dryRun,
      ),
    );
    return EXIT.ok;
  },
};
