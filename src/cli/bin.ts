import { tolerateClosedPipe } from './closed-pipe.js';
import { runMain } from './main.js';
import { terminalPrompt } from './prompt.js';

// The only place that ends the process.
process.exitCode = await runMain(process.argv.slice(2), {
  cwd: process.cwd(),
  env: process.env,
  stdout: tolerateClosedPipe(process.stdout),
  stderr: tolerateClosedPipe(process.stderr),
  prompt: terminalPrompt(),
});
