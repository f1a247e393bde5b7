import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Helpers for publisher tests: small app folders, and a
 * hash of a whole folder tree (every file, link and temp file) to prove "byte for byte unchanged".
 */
export { tempDir } from '../support/temp-dir.js';

/** A small app folder whose content depends on `version` (so patches differ from archives). */
export async function appFolder(parent: string, version: string, extra = ''): Promise<string> {
  const dir = join(parent, `app-${version}-${Math.random().toString(36).slice(2, 8)}`);
  await mkdir(join(dir, 'lib'), { recursive: true });
  await writeFile(join(dir, 'main.js'), `console.log(${JSON.stringify(version)});\n`);
  const lines = Array.from({ length: 400 }, (_, i) => `line ${i} of the data file`).join('\n');
  await writeFile(join(dir, 'lib', 'data.txt'), `${lines}\nversion ${version}\n${extra}`);
  return dir;
}

/** relative path -> sha256 of bytes (files) or `link:target` (symlinks) or `dir`, for a whole tree. */
export async function hashTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const rel = prefix === '' ? e.name : `${prefix}/${e.name}`;
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        out.set(rel, 'dir');
        await walk(path, rel);
      } else if (e.isSymbolicLink()) {
        out.set(rel, `link:${await readlink(path)}`);
      } else {
        out.set(
          rel,
          createHash('sha256')
            .update(await readFile(path))
            .digest('hex'),
        );
      }
    }
  };
  await walk(root, '');
  return out;
}
