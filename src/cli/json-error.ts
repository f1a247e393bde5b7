import { NotsotufError, UsageError } from '../errors.js';
import type { UsageErrorCode } from '../errors.js';

/**
 * The `--json` failure contract (docs/client.md): with `--json`, every command prints exactly one
 * JSON object on stdout, on failure too, so a program calling the CLI (the Python front end, a Go
 * or C# app) reads the error's class and stable code instead of parsing English:
 *
 *   {"status":"error","error":{"name":"UsageError","code":"CONFIG_UNREADABLE","message":"..."}}
 *
 * The human message still goes to stderr as well.
 */
export interface JsonErrorBody {
  readonly name: string;
  readonly code: string;
  readonly message: string;
}

/** Whether `--json` was given among the options (words after a `--` belong to another program). */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** The body for any thrown value: ours keep their class and code; anything else is UNEXPECTED. */
export function jsonErrorBody(error: unknown): JsonErrorBody {
  if (error instanceof NotsotufError) return { name: error.name, code: error.code, message: error.message };
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return { name, code: 'UNEXPECTED', message: `unexpected failure: ${message}` };
}

/** A usage problem found by the command-line parser itself (unknown command or option). */
export function usageBody(code: UsageErrorCode, message: string): JsonErrorBody {
  return jsonErrorBody(new UsageError(code, message));
}

export function jsonErrorLine(body: JsonErrorBody): string {
  return `${JSON.stringify({ status: 'error', error: body })}\n`;
}
