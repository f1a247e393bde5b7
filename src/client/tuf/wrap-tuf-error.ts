/**
 * Turns what tuf-js and @tufjs/models throw into our errors, with a message that says what happened
 * and what to do. Their error classes have no `name` and some failures reach us flattened into a
 * RuntimeError string, so the recorded root cause (see fetcher-adapter.ts) is preferred when there
 * is one. Nothing the server sent is trusted after any of these errors; what was verified before
 * the failure stays in the metadata folder (spec 5.3-5.6 persist each role once it verifies).
 */
import { ValueError as ModelsValueError } from '@tufjs/models';
import {
  LengthOrHashMismatchError,
  RepositoryError as ModelsRepositoryError,
} from '@tufjs/models/dist/error.js';
import {
  BadVersionError,
  DownloadHTTPError,
  ExpiredMetadataError,
  RepositoryError,
  RuntimeError,
  ValueError,
} from 'tuf-js/dist/error.js';
import { DataError, InstallError, NotsotufError, TransportError, messageOf } from '../../errors.js';

// Metadata that verified before the failure stays trusted (spec 5.3-5.6); the refused file is not stored.
const NOTHING_CHANGED = 'The refused metadata was not stored and nothing was installed.';

export function wrapTufError(error: unknown, recorded: unknown): NotsotufError {
  // tuf-js wraps the real failure into a string; our recorded cause is the real one.
  let root = error;
  if (error instanceof RuntimeError && recorded !== undefined) root = recorded;
  if (root instanceof DownloadHTTPError && (root as { cause?: unknown }).cause instanceof NotsotufError)
    root = (root as { cause?: unknown }).cause;
  if (root instanceof NotsotufError) return root;

  const detail = messageOf(root);
  if (root instanceof ExpiredMetadataError)
    return new DataError(
      'EXPIRED',
      `The update metadata has expired (${detail}). Either the publisher has not re-signed it ` +
        `(\`notsotuf refresh\`) or someone is replaying old metadata (freeze attack). ${NOTHING_CHANGED} ` +
        `Retry later, and tell the publisher if it persists.`,
      { cause: root },
    );
  if (root instanceof BadVersionError)
    return new DataError(
      'ROLLBACK',
      `The update metadata is older than, or does not match, what this client already trusts ` +
        `(${detail}): a rollback or mix-and-match attack, or a broken publish. ${NOTHING_CHANGED} ` +
        `Tell the publisher.`,
      { cause: root },
    );
  if (
    root instanceof LengthOrHashMismatchError ||
    root instanceof ModelsRepositoryError ||
    root instanceof RepositoryError
  )
    return new DataError(
      'METADATA_REFUSED',
      `The update metadata was refused (${detail}): it is not signed by enough trusted keys, or it ` +
        `does not match the signed hashes. The server or a mirror may be compromised. ${NOTHING_CHANGED} ` +
        `Tell the publisher.`,
      { cause: root },
    );
  if (
    root instanceof SyntaxError ||
    root instanceof TypeError ||
    root instanceof ModelsValueError ||
    root instanceof ValueError
  )
    return new DataError(
      'METADATA_REFUSED',
      `The update metadata is malformed (${detail}). ${NOTHING_CHANGED} Tell the publisher.`,
      { cause: root },
    );
  if (isNodeFsError(root))
    return new InstallError(
      'METADATA_WRITE_FAILED',
      `Could not read or write the trusted metadata folder (${detail}). Check its permissions and free space.`,
      { cause: root },
    );
  if (root instanceof DownloadHTTPError)
    return new TransportError(
      'HTTP_ERROR',
      `The update server answered HTTP ${root.statusCode}. Check the repository URL and retry.`,
      { cause: root },
    );
  return new DataError(
    'METADATA_REFUSED',
    `The update metadata could not be verified (${detail}). ${NOTHING_CHANGED}`,
    { cause: root },
  );
}

function isNodeFsError(e: unknown): boolean {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && 'syscall' in e;
}
