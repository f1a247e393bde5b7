import { tolerateClosedPipe } from './closed-pipe.js';
import { runMain } from './main.js';
import { terminalPrompt } from './prompt.js';

// `publish s3://` loads the AWS SDK, which warns on every run under Node.js 20 that its releases
// after January 2027 need Node.js 22. Our pinned range is what runs here; docs/publisher.md says
// which SDK versions work on Node.js 20. Not a thing a publisher can act on at each run.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// The only place that ends the process.
process.exitCode = await runMain(process.argv.slice(2), {
  cwd: process.cwd(),
  env: process.env,
  stdout: tolerateClosedPipe(process.stdout),
  stderr: tolerateClosedPipe(process.stderr),
  prompt: terminalPrompt(),
});
