import { build } from 'esbuild';

/**
 * Bundles a TypeScript entry point into one ES module for plain `node` (as an app ships it, so no
 * TypeScript loader is measured). The banner gives bundled CommonJS dependencies their `require`.
 */
export async function bundleForNode(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
}
