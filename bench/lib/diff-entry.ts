// Entry point the diff bench bundles (esbuild) and runs with plain node, so the measured memory is
// the engine's, not a TypeScript loader's. Usage: node diff-entry.mjs diff OLD NEW PATCH | patch OLD PATCH OUT
import { applyPatch, createPatch } from '../../src/diff/index.js';

const [command, a, b, c] = process.argv.slice(2);
if (a === undefined || b === undefined || c === undefined) throw new Error('usage: diff|patch A B C');
if (command === 'diff') await createPatch(a, b, c);
else if (command === 'patch') await applyPatch(a, b, c);
else throw new Error(`unknown command ${command}`);
