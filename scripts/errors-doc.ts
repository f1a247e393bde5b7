// Writes docs/errors.md from the source: every error code of src/errors.ts with the messages that
// src/ gives it (each says what happened and what to do). test/docs/errors-doc.test.ts fails when
// the page misses a code or lists one that is gone. Usage: npm run docs:errors
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { ERROR_CODES } from '../src/errors.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const ERRORS_DOC = join(ROOT, 'docs', 'errors.md');

const WHO: Record<keyof typeof ERROR_CODES, string> = {
  UsageError: 'the caller or the person at the keyboard gave bad input: fix the input and run again.',
  DataError:
    'data was refused (tampered, corrupt or hostile metadata, archives or patches, or a repository that does not verify): nothing was installed or published; the publisher must fix the source.',
  TransportError:
    'the network or the update server failed: retry later (a download resumes where it stopped).',
  InstallError:
    'the local system failed (disk full, permissions, a folder in use): fix the machine, then retry; nothing half-done is kept.',
  InternalError: 'notsotuf itself is wrong (a bug): nothing was changed; report it with the message.',
};

/** Codes whose message is assembled elsewhere: what the user sees, in words. */
const WRITTEN: Record<string, string> = {
  JSON_NOT_SUPPORTED: 'the command does not print JSON: run it without --json',
  PATCH_NOT_A_PATCH: 'the file is not a notsotuf patch: check the path, or download the patch again',
  PATCH_UNSUPPORTED_FORMAT:
    'the patch is of a newer patch format than this notsotuf reads: update notsotuf, or download the full archive',
  ARCHIVE_WRITE_FAILED:
    'could not write <archive or tar>: <reason> (check the folder is writable and has free space)',
  FILE_IO: 'cannot access <what> <path>: <reason> (check permissions and free space)',
  WRITE_FAILED:
    "could not write <path> (<reason>): check that the app's state folder is writable and has free space.",
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
    });
}

/** The string, template or `+`-joined literal starting at `at` (after whitespace), shown for a reader. */
function literalAt(text: string, at: number): string | undefined {
  let i = at;
  const parts: string[] = [];
  for (;;) {
    while (/\s/.test(text[i] ?? '')) i++;
    const quote = text[i];
    if (quote !== "'" && quote !== '"' && quote !== '`') break;
    let out = '';
    i++;
    while (i < text.length && text[i] !== quote) {
      if (text[i] === '\\') {
        out += text[i + 1] ?? '';
        i += 2;
      } else if (quote === '`' && text.startsWith('${', i)) {
        let depth = 1;
        let j = i + 2;
        while (j < text.length && depth > 0) {
          if (text[j] === '{') depth++;
          else if (text[j] === '}') depth--;
          j++;
        }
        const words = text.slice(i + 2, j - 1).match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? ['value'];
        out += `<${words[words.length - 1] ?? 'value'}>`;
        i = j;
      } else out += text[i++];
    }
    parts.push(out);
    i++;
    while (/\s/.test(text[i] ?? '')) i++;
    if (text[i] !== '+') break;
    i++;
  }
  return parts.length === 0 ? undefined : parts.join('');
}

/**
 * The message that follows a code: `new X('CODE', 'message')`, `refuse('CODE', path, 'rule')` (one
 * argument skipped) or `{ code: 'CODE', rule: 'rule' }`.
 */
function messageAfter(text: string, at: number): string | undefined {
  const rest = text.slice(at, at + 2000);
  const comma = /^\s*,\s*(rule:|message:)?/.exec(rest);
  if (comma === null) return undefined;
  const direct = literalAt(text, at + comma[0].length);
  if (direct !== undefined) return direct;
  const skipped = /^\s*,\s*[A-Za-z_.]+\s*,/.exec(rest);
  return skipped === null ? undefined : literalAt(text, at + skipped[0].length);
}

/** For each code: the messages written right after it in src/, and the files that use it. */
function usesOf(
  code: string,
  files: { rel: string; text: string }[],
): { messages: string[]; where: string[] } {
  const messages = new Set<string>();
  const where = new Set<string>();
  const quoted = new RegExp(`'${code}'`, 'g');
  for (const { rel, text } of files) {
    for (const m of text.matchAll(quoted)) {
      where.add(rel);
      const message = messageAfter(text, m.index + m[0].length);
      if (message !== undefined && message.length > 0) messages.add(message.replace(/\s+/g, ' '));
    }
  }
  return { messages: [...messages], where: [...where] };
}

const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

export async function renderErrorsDoc(): Promise<string> {
  const files = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'tools'))]
    .filter((p) => !p.endsWith(join('src', 'errors.ts')))
    .map((p) => ({ rel: relative(ROOT, p).replaceAll('\\', '/'), text: readFileSync(p, 'utf8') }));
  const lines = [
    '# Error codes',
    '',
    '<!-- Generated by `npm run docs:errors` from src/errors.ts and the messages in src/. Do not edit by hand. -->',
    '',
    'Every error notsotuf throws is one of the classes below (exported from `notsotuf` and',
    '`notsotuf/repo`), with a `name` (the class), a stable `code`, a message that says what happened',
    'and what to do, and the original `cause`. The CLI prints the message and, with `--json`,',
    '`{"status":"error","error":{"name","code","message"}}`; it exits 2 for a UsageError, else 1.',
    'An error that is none of these is shown as code `UNEXPECTED`: report it.',
    '',
    'Each class has its own union of codes (`UsageErrorCode`, ...), so `switch (error.code)` is checked',
    'by the compiler. `<name>` in a message stands for a value filled in at run time.',
    '',
    'Adding a code: add it to its class in `ERROR_CODES` (src/errors.ts; the compiler refuses an',
    'unknown code), give the error a message that says what to do, then run `npm run docs:errors`.',
    '',
  ];
  for (const [cls, codes] of Object.entries(ERROR_CODES) as [keyof typeof ERROR_CODES, readonly string[]][]) {
    lines.push(
      `## ${cls}`,
      '',
      `Who acts: ${WHO[cls]}`,
      '',
      '| code | message (what happened, what to do) | where |',
      '| --- | --- | --- |',
    );
    for (const code of codes) {
      const { messages, where } = usesOf(code, files);
      const shown =
        messages.length === 0
          ? cell(WRITTEN[code] ?? '(no message found: add one to WRITTEN in scripts/errors-doc.ts)')
          : messages.map(cell).join('<br>');
      lines.push(`| \`${code}\` | ${shown} | ${where.map((w) => `\`${w}\``).join(' ')} |`);
    }
    lines.push('');
  }
  const options = (await resolveConfig(ERRORS_DOC)) ?? {};
  return format(lines.join('\n'), { ...options, filepath: ERRORS_DOC });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(ERRORS_DOC, await renderErrorsDoc());
  console.log(`wrote ${relative(process.cwd(), ERRORS_DOC)}`);
}
