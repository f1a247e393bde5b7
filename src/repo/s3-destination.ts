import { createReadStream } from 'node:fs';
import { NotsotufError, TransportError, UsageError, messageOf } from '../errors.js';
import type { Freshness, LocalFile, PublishDestination } from './publish-destination.js';

/** Where in a bucket: `s3://BUCKET/PREFIX`. */
export interface S3Location {
  readonly bucket: string;
  /** Key prefix without leading or trailing "/", '' for the bucket's root. */
  readonly prefix: string;
}

export interface S3Options {
  /** A non-AWS endpoint (MinIO, R2, Ceph, a local server), e.g. http://127.0.0.1:9000. */
  readonly endpoint?: string;
  /** The region; default: the SDK's (AWS_REGION, the profile), or us-east-1 with an endpoint. */
  readonly region?: string;
  /** Path-style URLs (endpoint/bucket/key); default: on for an endpoint that is an IP or localhost. */
  readonly pathStyle?: boolean;
  /** A canned ACL for every object, e.g. 'public-read' where the bucket uses ACLs. */
  readonly acl?: string;
  /** max-age in seconds of timestamp.json and root.json (replaced in place); default 60. */
  readonly mutableMaxAge?: number;
  /** The environment that holds the credentials (only to keep their values out of messages). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Cache-Control of files whose names never change their bytes. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
export const DEFAULT_MUTABLE_MAX_AGE = 60;
/** S3's limit for one PUT; larger files would need a multipart upload. */
const MAX_SINGLE_PUT = 5 * 1024 ** 3;

/** Parses `s3://BUCKET[/PREFIX]`, or returns undefined for anything that is not an s3:// URL. */
export function parseS3Url(url: string): S3Location | undefined {
  if (!url.startsWith('s3://')) return undefined;
  const rest = url.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const prefix = (slash === -1 ? '' : rest.slice(slash + 1)).replace(/^\/+|\/+$/g, '');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new UsageError(
      'BAD_S3_URL',
      `"${bucket}" in ${url} is not a bucket name (3-63 lower-case letters, digits, "." and "-"): give s3://BUCKET/PREFIX`,
    );
  }
  if (prefix.split('/').some((part) => part === '.' || part === '..' || part === '')) {
    throw new UsageError(
      'BAD_S3_URL',
      `the prefix of ${url} has an empty, "." or ".." part: give s3://BUCKET/PREFIX`,
    );
  }
  return { bucket, prefix };
}

type S3Sdk = typeof import('@aws-sdk/client-s3');

async function loadSdk(): Promise<S3Sdk> {
  try {
    return await import('@aws-sdk/client-s3');
  } catch (cause) {
    throw new UsageError(
      'S3_SDK_MISSING',
      'publishing to S3 needs the AWS SDK beside notsotuf: run "npm install @aws-sdk/client-s3" in your build project (apps that ship the client never load it)',
      { cause },
    );
  }
}

function isLocalHost(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || /^[\d.]+$/.test(host) || host.startsWith('[');
  } catch {
    return false;
  }
}

/** Credentials' values from the environment, to be cut out of every message. */
function secretsIn(env: Readonly<Record<string, string | undefined>>): string[] {
  return ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ACCESS_KEY_ID']
    .map((k) => env[k])
    .filter((v): v is string => v !== undefined && v.length >= 4);
}

function contentType(rel: string): string {
  if (rel.endsWith('.json')) return 'application/json';
  if (rel.endsWith('.tar.gz')) return 'application/gzip';
  return 'application/octet-stream';
}

interface Listed {
  readonly size: number;
  readonly etag: string;
}

type S3ClientOf<T extends S3Sdk> = InstanceType<T['S3Client']>;

/**
 * The SDK's client for `options`. Credentials in `env` are passed on (the CLI's environment, or a
 * library caller's); without them the SDK's own chain looks (profile files, SSO, instance and
 * container roles).
 */
function s3Client(sdk: S3Sdk, options: S3Options, env: NodeJS.ProcessEnv): S3ClientOf<S3Sdk> {
  const region =
    options.region ??
    env.AWS_REGION ??
    env.AWS_DEFAULT_REGION ??
    (options.endpoint === undefined ? undefined : 'us-east-1');
  const keyId = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  return new sdk.S3Client({
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(region === undefined ? {} : { region }),
    ...(keyId !== undefined && keyId !== '' && secret !== undefined && secret !== ''
      ? {
          credentials: {
            accessKeyId: keyId,
            secretAccessKey: secret,
            ...(env.AWS_SESSION_TOKEN === undefined ? {} : { sessionToken: env.AWS_SESSION_TOKEN }),
          },
        }
      : env.AWS_PROFILE === undefined
        ? {}
        : { profile: env.AWS_PROFILE }),
    forcePathStyle: options.pathStyle ?? (options.endpoint !== undefined && isLocalHost(options.endpoint)),
    // Our own Content-MD5 protects each upload; the SDK's newer default checksums are not
    // implemented by many S3-compatible stores.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** One whole-object PUT with Content-MD5 (S3 refuses bytes damaged on the way) and our sha256. */
async function putCommand(
  sdk: S3Sdk,
  bucket: string,
  key: string,
  file: LocalFile,
  freshness: Freshness,
  options: S3Options,
): Promise<InstanceType<S3Sdk['PutObjectCommand']>> {
  const md5 = Buffer.from(await file.digest('md5'), 'hex').toString('base64');
  return new sdk.PutObjectCommand({
    Bucket: bucket,
    Key: key,
    Body: createReadStream(file.path),
    ContentLength: file.size,
    ContentMD5: md5,
    ContentType: contentType(file.rel),
    CacheControl:
      freshness === 'immutable'
        ? IMMUTABLE_CACHE_CONTROL
        : `public, max-age=${options.mutableMaxAge ?? DEFAULT_MUTABLE_MAX_AGE}`,
    Metadata: { sha256: await file.digest('sha256') },
    ...(options.acl === undefined ? {} : { ACL: options.acl as 'public-read' }),
  });
}

/** Every object under the location's prefix (by its path below the prefix), page by page. */
async function listObjects(
  sdk: S3Sdk,
  client: S3ClientOf<S3Sdk>,
  location: S3Location,
  fail: (cause: unknown, doing: string) => NotsotufError,
): Promise<Map<string, Listed>> {
  const found = new Map<string, Listed>();
  const start = location.prefix === '' ? '' : `${location.prefix}/`;
  let token: string | undefined;
  do {
    let page;
    try {
      page = await client.send(
        new sdk.ListObjectsV2Command({
          Bucket: location.bucket,
          Prefix: start,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
    } catch (cause) {
      throw fail(cause, 'listing');
    }
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined || o.Key.endsWith('/')) continue; // folder markers of some stores
      found.set(o.Key.slice(start.length), {
        size: o.Size ?? -1,
        etag: (o.ETag ?? '').replaceAll('"', ''),
      });
    }
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return found;
}

/**
 * An S3 bucket (AWS or any S3-compatible store) as a publish destination. Credentials come from the
 * SDK's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, instance roles).
 * Each object is one PUT with Content-MD5 (S3 stores it whole or not at all, and refuses bytes
 * damaged on the way), so an interrupted publish resumes per file on the next run.
 */
export async function s3Destination(
  location: S3Location,
  options: S3Options = {},
): Promise<PublishDestination> {
  const sdk = await loadSdk();
  const env = options.env ?? process.env;
  const where = `s3://${location.bucket}${location.prefix === '' ? '' : `/${location.prefix}`}`;
  const display = options.endpoint === undefined ? where : `${where} at ${options.endpoint}`;
  const client = s3Client(sdk, options, env);
  const secrets = secretsIn(env);
  const scrub = (text: string): string => secrets.reduce((t, s) => t.split(s).join('***'), text);
  const keyOf = (rel: string): string => (location.prefix === '' ? rel : `${location.prefix}/${rel}`);
  const fail = (cause: unknown, doing: string): NotsotufError =>
    s3Error(cause, { display, bucket: location.bucket, endpoint: options.endpoint, doing, scrub });
  let listing = new Map<string, Listed>();

  return {
    display,
    async list() {
      listing = await listObjects(sdk, client, location, fail);
      return new Set(listing.keys());
    },
    async read(rel, maxBytes) {
      let out;
      try {
        out = await client.send(new sdk.GetObjectCommand({ Bucket: location.bucket, Key: keyOf(rel) }));
      } catch (cause) {
        if ((cause as { name?: string }).name === 'NoSuchKey') return undefined;
        throw fail(cause, `reading ${rel}`);
      }
      if (out.Body === undefined) return undefined;
      if ((out.ContentLength ?? 0) > maxBytes) {
        (out.Body as { destroy?: () => void }).destroy?.();
        return { tooLarge: true };
      }
      return { bytes: Buffer.from(await out.Body.transformToByteArray()) };
    },
    async holds(file: LocalFile) {
      const there = listing.get(file.rel);
      if (there === undefined || there.size !== file.size) return false;
      // A single PUT's ETag is the MD5 of the bytes; a multipart one is not, so ask for our sha256.
      if (/^[0-9a-f]{32}$/.test(there.etag)) return there.etag === (await file.digest('md5'));
      try {
        const head = await client.send(
          new sdk.HeadObjectCommand({ Bucket: location.bucket, Key: keyOf(file.rel) }),
        );
        return head.Metadata?.sha256 === (await file.digest('sha256'));
      } catch (cause) {
        throw fail(cause, `checking ${file.rel}`);
      }
    },
    async put(file: LocalFile, freshness: Freshness) {
      if (file.size > MAX_SINGLE_PUT) {
        throw new UsageError(
          'S3_FILE_TOO_LARGE',
          `${file.rel} is ${file.size} bytes, over the 5 GiB of one S3 upload: publish to a folder and sync it with your storage's own tool`,
        );
      }
      const command = await putCommand(sdk, location.bucket, keyOf(file.rel), file, freshness, options);
      try {
        await client.send(command);
      } catch (cause) {
        throw fail(cause, `uploading ${file.rel}`);
      }
    },
    async remove(rel) {
      try {
        await client.send(new sdk.DeleteObjectCommand({ Bucket: location.bucket, Key: keyOf(rel) }));
      } catch (cause) {
        throw fail(cause, `deleting ${rel}`);
      }
    },
  };
}

const CREDENTIAL_ERRORS = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  'CredentialsProviderError',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
]);

/** What S3 (or the way there) said, as our error with what to do; never with credentials. */
function s3Error(
  cause: unknown,
  at: {
    display: string;
    bucket: string;
    endpoint: string | undefined;
    doing: string;
    scrub: (text: string) => string;
  },
): NotsotufError {
  if (cause instanceof NotsotufError) return cause;
  const c = cause as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const name = c.name ?? 'Error';
  const code = c.code ?? (cause as { cause?: { code?: string } }).cause?.code;
  const said = at.scrub(`${name}: ${messageOf(cause)}`);
  if (CREDENTIAL_ERRORS.has(name)) {
    return new UsageError(
      'S3_CREDENTIALS',
      `${at.display} refused the credentials while ${at.doing} (${said}): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE`,
    );
  }
  if (name === 'AccessDenied' || c.$metadata?.httpStatusCode === 403) {
    return new UsageError(
      'S3_ACCESS_DENIED',
      `${at.display} denied access while ${at.doing} (${said}): the credentials must be allowed to list, read, write and delete objects in bucket ${at.bucket}`,
    );
  }
  if (name === 'NoSuchBucket') {
    return new UsageError(
      'S3_NO_SUCH_BUCKET',
      `bucket ${at.bucket} does not exist${at.endpoint === undefined ? '' : ` at ${at.endpoint}`}: create it first, or check the name, --region and --endpoint`,
    );
  }
  if (/region is missing/i.test(messageOf(cause))) {
    return new UsageError('S3_NO_REGION', `no region for ${at.display}: give --region (or set AWS_REGION)`);
  }
  if ((code !== undefined && NETWORK_CODES.has(code)) || name === 'TimeoutError') {
    return new TransportError(
      'S3_UNREACHABLE',
      `cannot reach ${at.endpoint ?? at.display} while ${at.doing} (${code ?? name}): check --endpoint, the network, and that the storage runs; run publish again to finish`,
    );
  }
  return new TransportError(
    'S3_ERROR',
    `${at.display} failed while ${at.doing}: ${said}; run publish again to finish`,
  );
}
