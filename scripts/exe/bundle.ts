/**
 * Bundles the client-only CLI (src/cli/client-bin.ts) into one CommonJS file, the form Node 20's
 * single executable applications need (no files beside it can be loaded). esbuild's output depends
 * only on the sources and its own version (pinned in package.json), so the bundle is reproducible.
 */
import { build } from 'esbuild';
import type { Metafile } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The entry point of the client executables, relative to the repository. */
export const CLIENT_ENTRY = 'src/cli/client-bin.ts';

export interface Bundle {
  /** The bundled JavaScript (CommonJS). */
  readonly code: string;
  /** Source files that went into it, relative to the repository (`node_modules/...` for packages). */
  readonly inputs: readonly string[];
}

/** Bundles `entry` (relative to the repository) with its dependencies; writes nothing. */
export async function bundle(entry: string = CLIENT_ENTRY): Promise<Bundle> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    outfile: 'client.cjs',
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const out = result.outputFiles[0];
  if (out === undefined) throw new Error(`esbuild wrote no output for ${entry}`);
  return { code: out.text, inputs: inputsOf(result.metafile) };
}

function inputsOf(metafile: Metafile): string[] {
  return Object.keys(metafile.inputs).sort();
}
