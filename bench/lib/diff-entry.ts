// Entry point the diff bench bundles (esbuild) and runs with plain node, so the measured memory is
// the engine's, not a TypeScript loader's. Usage: node diff-entry.mjs diff OLD NEW PATCH | patch OLD PATCH OUT
import { applyPatch, createPatch } from '../../src/diff/index.js';

const [command, a, b, c] = process.argv.slice(2);
if (a === undefined || b === undefined || c === undefined) throw new Error('usage: diff|patch A B C');
if (command === 'diff') await createPatch(a, b, c);
else if (command === 'patch') {
  // The client applies in its own, running process: the apply alone, without Node's start-up and
  // module loading, is timed here as well and printed for the bench (bench/lib/measure.ts).
  const cpu = process.cpuUsage();
  const start = performance.now();
  await applyPatch(a, b, c);
  const used = process.cpuUsage(cpu);
  const inProcess = {
    seconds: (performance.now() - start) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
  };
  process.stdout.write(`IN_PROCESS ${JSON.stringify(inProcess)}\n`);
} else throw new Error(`unknown command ${command}`);
