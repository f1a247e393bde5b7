import { tolerateClosedPipe } from './closed-pipe.js';
import { runClientMain } from './client-main.js';
import { deferKeepAliveUntilConnected } from './defer-keep-alive.js';
import { terminalPrompt } from './prompt.js';

// Entry point of the single-file client executables; the only place that ends their process.
if (process.platform === 'win32') deferKeepAliveUntilConnected();

// No top-level await: the executables hold this file bundled as CommonJS (Node 20's SEA format).
const stderr = tolerateClosedPipe(process.stderr);
runClientMain(process.argv.slice(2), {
  cwd: process.cwd(),
  env: process.env,
  stdout: tolerateClosedPipe(process.stdout),
  stderr,
  prompt: terminalPrompt(),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    stderr.write(`notsotuf: ${String((error as Error)?.stack ?? error)}\n`);
    process.exitCode = 1;
  },
);
