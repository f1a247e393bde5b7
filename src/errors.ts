/**
 * One error hierarchy for the whole package. Every error has a stable `code` (for programs), a
 * `name` (the class), a message that says what happened and what to do next, and the original
 * `cause` kept as an object (never flattened into a string).
 *
 * The subclasses are split by who must act:
 * - UsageError: the caller or the person at the keyboard gave bad input (fix the input).
 * - DataError: data was refused: tampered, corrupt or hostile metadata, archives or patches, or a
 *   repository on disk that does not verify. Do not trust it; the publisher must fix the source.
 * - TransportError: the network or server failed (retry later; a download resumes).
 * - InstallError: the local system failed us (disk full, permissions, locked files).
 * - InternalError: notsotuf itself is wrong (a bug): report it.
 *
 * Each class has its own union of codes (ERROR_CODES below), so a caller can `switch (e.code)` with
 * the compiler's help. Adding a code: add it to its class's list here (the compiler asks for it),
 * then run `npm run docs:errors` to list it in docs/errors.md (a test checks the page is current).
 */
export const ERROR_CODES = {
  UsageError: [
    'ALREADY_INITIALISED',
    'ALREADY_SIGNED',
    'APP_NOT_IN_REPOSITORY',
    'ARCHIVE_ABSOLUTE_PATH',
    'ARCHIVE_BAD_PATH',
    'ARCHIVE_CASE_COLLISION',
    'ARCHIVE_DOTDOT',
    'ARCHIVE_NOT_FOUND',
    'ARCHIVE_PATH_TOO_LONG',
    'ARCHIVE_SPECIAL_FILE',
    'ARCHIVE_SYMLINK_ESCAPE',
    'ARCHIVE_TOO_LARGE',
    'BAD_ARGUMENTS',
    'BAD_CONFIG',
    'BAD_DESTINATION',
    'BAD_LIMIT',
    'BAD_S3_URL',
    'CANNOT_LISTEN',
    'CONFIG_INVALID',
    'CONFIG_TOO_LARGE',
    'CONFIG_UNREADABLE',
    'CONFIRMATION_NEEDED',
    'DESTINATION_CHANGED',
    'DESTINATION_NEWER',
    'DEST_HOLDS_KEYS',
    'DEST_NOT_A_FOLDER',
    'EMPTY_PASSPHRASE',
    'EMPTY_RELEASE_FOLDER',
    'ENCRYPTED_TUFUP_KEY',
    'EXE_NOT_BUILT',
    'EXE_WRONG_PLATFORM',
    'EXTRA_ARGUMENT',
    'FILE_NOT_FOUND',
    'FOLDER_CHANGED',
    'FOLDER_HOLDS_PROJECT',
    'FOLDER_IN_PROJECT',
    'FOLDER_MISSING',
    'FOLDER_NOT_FOUND',
    'FOLDER_TOO_LARGE',
    'FOLDER_UNREADABLE',
    'INSTALL_DIR_MISSING',
    'INSTALL_DIR_NOT_EMPTY',
    'INVALID_APP_NAME',
    'INVALID_CHANNEL',
    'INVALID_EXPIRY',
    'INVALID_HANDOVER_PLAN',
    'INVALID_HEADER',
    'INVALID_KEEP',
    'INVALID_KEY_NAME',
    'INVALID_META',
    'INVALID_OPTION',
    'INVALID_ROLE',
    'INVALID_ROLLOUT',
    'INVALID_ROLLOUT_ID',
    'INVALID_THRESHOLD',
    'INVALID_URL',
    'INVALID_VERSION',
    'JSON_NOT_SUPPORTED',
    'KEYS_IN_REPOSITORY',
    'KEY_ALREADY_IN_ROLE',
    'KEY_EXISTS',
    'KEY_MISMATCH',
    'KEY_NOT_IN_ROLE',
    'MISSING_ARGUMENT',
    'MISSING_KEY',
    'MISSING_OPTION',
    'MISSING_SETTING',
    'NOTHING_TO_CONFIRM',
    'NOT_A_FILE',
    'NOT_A_FOLDER',
    'NOT_A_RELEASE',
    'NOT_A_REPOSITORY',
    'NOT_A_TUFUP_REPOSITORY',
    'NOT_REFRESHED',
    'NO_CONFIG',
    'NO_KEYS',
    'NO_KEY_FOLDER',
    'NO_RELEASE',
    'NO_TERMINAL',
    'OUT_DIR_NOT_EMPTY',
    'OUT_NOT_A_FOLDER',
    'PASSPHRASE_MISMATCH',
    'PASSPHRASE_REQUIRED',
    'PROMPT_STOPPED',
    'PRUNE_UNREADABLE',
    'RELEASE_DROPS_FILES',
    'REPOSITORY_LOCKED',
    'RESTART_COMMAND_MISSING',
    'ROLE_WITHOUT_KEYS',
    'S3_ACCESS_DENIED',
    'S3_CREDENTIALS',
    'S3_FILE_TOO_LARGE',
    'S3_NO_REGION',
    'S3_NO_SUCH_BUCKET',
    'S3_SDK_MISSING',
    'SAME_KEY',
    'STAGING_NOT_EMPTY',
    'STATE_DIR_NOT_OURS',
    'STATE_IN_INSTALL_DIR',
    'TARGET_EXISTS',
    'TRUSTED_ROOT_MISSING',
    'UNKNOWN_COMMAND',
    'UNKNOWN_PLATFORM',
    'VERSION_NOT_NEWER',
    'WRONG_PASSPHRASE',
  ],
  DataError: [
    'ARCHIVE_ABSOLUTE_PATH',
    'ARCHIVE_BAD_PATH',
    'ARCHIVE_CASE_COLLISION',
    'ARCHIVE_CORRUPT',
    'ARCHIVE_DOTDOT',
    'ARCHIVE_DUPLICATE_ENTRY',
    'ARCHIVE_ENTRY_TOO_LARGE',
    'ARCHIVE_HARDLINK',
    'ARCHIVE_MISSING_PARENT',
    'ARCHIVE_PATH_TOO_LONG',
    'ARCHIVE_SPECIAL_FILE',
    'ARCHIVE_SYMLINK_ESCAPE',
    'ARCHIVE_TOO_LARGE',
    'ARCHIVE_TOO_MANY_ENTRIES',
    'ARCHIVE_UNSUPPORTED_ENTRY',
    'ARCHIVE_WRITE_THROUGH_SYMLINK',
    'BAD_CUSTOM_METADATA',
    'BAD_KEY_FILE',
    'BAD_METADATA',
    'BAD_REPOSITORY',
    'BAD_TARGET_PATH',
    'EXPIRED',
    'HANDOVER_RESULT_INVALID',
    'METADATA_REFUSED',
    'METADATA_TOO_LARGE',
    'NO_SHA256',
    'NO_SUCH_TARGET',
    'PATCH_CORRUPT',
    'PATCH_METADATA_MISMATCH',
    'PATCH_NOT_A_PATCH',
    'PATCH_RESULT_MISMATCH',
    'PATCH_SOURCE_CHANGED',
    'PATCH_TOO_LARGE',
    'PATCH_TRUNCATED',
    'PATCH_UNSUPPORTED_FORMAT',
    'PATCH_WRONG_SOURCE',
    'REPOSITORY_CORRUPT',
    'REPOSITORY_INVALID',
    'REPOSITORY_NOT_VALID',
    'ROLLBACK',
    'TARGET_MISMATCH',
    'TARGET_TOO_LARGE',
    'TAR_DIGEST_MISMATCH',
    'TOO_LONG',
    'TRUSTED_ROOT_INVALID',
    'TRUSTED_ROOT_MISMATCH',
  ],
  TransportError: [
    'ABORTED',
    'BAD_RANGE',
    'BAD_REDIRECT',
    'HTTP_ERROR',
    'NETWORK',
    'S3_ERROR',
    'S3_UNREACHABLE',
    'STALLED',
    'TIMEOUT',
    'TOO_SLOW',
  ],
  InstallError: [
    'ARCHIVE_WRITE_FAILED',
    'DISK_FULL',
    'DOWNLOAD_FAILED',
    'FILE_CHANGED',
    'FILE_IO',
    'HANDOVER_PENDING',
    'HANDOVER_RESULT_UNREADABLE',
    'HANDOVER_RUNNING',
    'HANDOVER_START_FAILED',
    'HANDOVER_WRITE_FAILED',
    'INSTALL_DIR_REPLACED',
    'INSTALL_FAILED',
    'INSTALL_TIMEOUT',
    'METADATA_WRITE_FAILED',
    'NO_TRUSTED_ROOT',
    'PUBLISH_FAILED',
    'READ_FAILED',
    'REPOSITORY_WRITE_FAILED',
    'RESTORE_FAILED',
    'STAGING_FAILED',
    'STATE_NOT_WRITABLE',
    'UNPACK_FAILED',
    'UPDATE_IN_PROGRESS',
    'WRITE_FAILED',
  ],
  InternalError: ['PATCH_CHECK_FAILED', 'PATCH_MISMATCH'],
} as const;

export type UsageErrorCode = (typeof ERROR_CODES.UsageError)[number];
export type DataErrorCode = (typeof ERROR_CODES.DataError)[number];
export type TransportErrorCode = (typeof ERROR_CODES.TransportError)[number];
export type InstallErrorCode = (typeof ERROR_CODES.InstallError)[number];
export type InternalErrorCode = (typeof ERROR_CODES.InternalError)[number];
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES][number];

export class NotsotufError extends Error {
  override readonly name: string = 'NotsotufError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export class UsageError extends NotsotufError {
  override readonly name: string = 'UsageError';
  declare readonly code: UsageErrorCode;

  constructor(code: UsageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export class DataError extends NotsotufError {
  override readonly name: string = 'DataError';
  declare readonly code: DataErrorCode;

  constructor(code: DataErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export class TransportError extends NotsotufError {
  override readonly name: string = 'TransportError';
  declare readonly code: TransportErrorCode;

  constructor(code: TransportErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export class InstallError extends NotsotufError {
  override readonly name: string = 'InstallError';
  declare readonly code: InstallErrorCode;

  constructor(code: InstallErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export class InternalError extends NotsotufError {
  override readonly name: string = 'InternalError';
  declare readonly code: InternalErrorCode;

  constructor(code: InternalErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The message of any thrown value, for wrapping a foreign error into ours. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
