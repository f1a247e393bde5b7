/**
 * `notsotuf release add 1.2.0 DIR | head -1`: the reader of stdout (or stderr) goes away while the
 * CLI still prints. Node then reports EPIPE as an 'error' event, which, unhandled, crashes the
 * process with a stack trace and exit 1 after the work was done (a script would retry a release
 * that was written). Like other command-line tools, the CLI stops printing to a closed stream and
 * exits with the code of the work itself. Any other stream error still surfaces.
 */
const GONE: ReadonlySet<string | undefined> = new Set([
  'EPIPE',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
]);

export function tolerateClosedPipe(stream: NodeJS.WritableStream): { write(text: string): boolean } {
  let closed = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (GONE.has(error.code)) {
      closed = true;
      return;
    }
    throw error;
  });
  return {
    write(text) {
      if (closed) return false;
      return stream.write(text);
    },
  };
}
