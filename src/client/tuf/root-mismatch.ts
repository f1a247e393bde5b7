import { UnsignedMetadataError } from '@tufjs/models/dist/error.js';
import { DataError, NotsotufError } from '../../errors.js';

/**
 * Whether a refresh failed because metadata was not signed by the keys the trusted root names
 * (as opposed to expired, rolled back, malformed or unreachable metadata).
 */
function isSignatureRefusal(error: unknown): boolean {
  return (
    error instanceof NotsotufError &&
    error.code === 'METADATA_REFUSED' &&
    (error as { cause?: unknown }).cause instanceof UnsignedMetadataError
  );
}

/**
 * On the first contact with a repository (no timestamp ever verified here), metadata that the
 * trusted root's keys did not sign almost always means the root.json shipped with the app belongs
 * to another repository (or an earlier `init` of this one): say that the LOCAL trust file does not
 * match, which the person holding it can fix, instead of blaming the server. Nothing is trusted
 * either way. Other errors pass through unchanged.
 */
export function rootMismatchError(
  error: unknown,
  where: { readonly trustedRoot: string; readonly metadataUrl: string },
): unknown {
  if (!isSignatureRefusal(error)) return error;
  const detail = ((error as NotsotufError).cause as Error).message;
  return new DataError(
    'TRUSTED_ROOT_MISMATCH',
    `the trusted root ${where.trustedRoot} does not match the repository at ${where.metadataUrl}: ` +
      `its keys signed none of the repository's metadata (${detail}). Ship this repository's root.json ` +
      `with the app (the publisher's repository/metadata/1.root.json) and check metadataUrl; if that ` +
      `root.json is the right one, the server is serving another repository's or forged metadata. ` +
      `Nothing was installed.`,
    { cause: error },
  );
}
