/**
 * The go-tuf client of the interoperability tests, built by scripts/go-tuf-client.sh (run by
 * .ci/run; locally `npm run go-tuf`) into .cache/go-tuf/go-tuf-client.
 *
 *   const goTuf = goTufClient();
 *   test('...', { skip: goTuf.skip }, async () => { runProcess(goTuf.path, [...]) });
 *
 * Without the build, `skip` is a missing-tool reason (test/helpers/skip.ts): a skip on a developer
 * machine, a failed run under CI=true.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipUnlessTool } from './skip.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type GoTufClient =
  { readonly path: string; readonly skip: false } | { readonly path: undefined; readonly skip: string };

/** The built go-tuf client, or why tests must skip. */
export function goTufClient(): GoTufClient {
  const path = join(
    ROOT,
    '.cache',
    'go-tuf',
    process.platform === 'win32' ? 'go-tuf-client.exe' : 'go-tuf-client',
  );
  if (existsSync(path)) return { path, skip: false };
  const skip = skipUnlessTool(
    '.cache/go-tuf/go-tuf-client is missing (run: npm run go-tuf; .ci/run builds it)',
  );
  return { path: undefined, skip: skip as string };
}
