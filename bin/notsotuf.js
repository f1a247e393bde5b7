#!/usr/bin/env node
// The `notsotuf` command: runs the built CLI (dist/). npm's `prepare` script (npm ci, git installs,
// npm pack) builds it; after changing the sources, `npm run build`.
import('../dist/src/cli/bin.js').catch((error) => {
  if (
    error &&
    error.code === 'ERR_MODULE_NOT_FOUND' &&
    /dist[\\/]src[\\/]cli[\\/]bin\.js/.test(String(error.message))
  ) {
    process.stderr.write('notsotuf: the CLI is not built (dist/ is missing): run "npm run build" first\n');
  } else {
    process.stderr.write(`notsotuf: ${error && error.stack ? error.stack : String(error)}\n`);
  }
  process.exitCode = 1;
});
