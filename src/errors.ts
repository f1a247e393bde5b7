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
 */
export class NotsotufError extends Error {
  override readonly name: string = 'NotsotufError';
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export class UsageError extends NotsotufError {
  override readonly name: string = 'UsageError';
}

export class DataError extends NotsotufError {
  override readonly name: string = 'DataError';
}

export class TransportError extends NotsotufError {
  override readonly name: string = 'TransportError';
}

export class InstallError extends NotsotufError {
  override readonly name: string = 'InstallError';
}

/** The message of any thrown value, for wrapping a foreign error into ours. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
