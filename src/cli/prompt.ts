import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { UsageError } from '../errors.js';
import type { CommandContext } from './command.js';

/**
 * readline rejects a pending question with an AbortError on Ctrl+D (end of input) and Ctrl+C: the
 * person stopped. Every prompt comes before the command writes anything, so nothing changed.
 */
function stoppedAtPrompt(error: unknown): unknown {
  if (!(error instanceof Error && error.name === 'AbortError')) return error;
  return new UsageError(
    'PROMPT_STOPPED',
    'stopped at the prompt: nothing was changed. Run the command again, or give the answers as options (see --help)',
    { cause: error },
  );
}

/**
 * A terminal prompt on stdin/stderr, or undefined when stdin is not a terminal. A secret answer
 * (a passphrase) is not echoed: readline writes through a stream we mute while it reads.
 */
export function terminalPrompt(): CommandContext['prompt'] {
  if (!process.stdin.isTTY) return undefined;
  return async (question, options) => {
    let muted = false;
    const output = Object.assign(
      new Writable({
        write(chunk: Buffer | string, _encoding, done) {
          if (!muted) process.stderr.write(chunk);
          done();
        },
      }),
      { isTTY: true, columns: process.stderr.columns },
    );
    const rl = createInterface({ input: process.stdin, output, terminal: true });
    try {
      if (options?.secret !== true) return await rl.question(question);
      process.stderr.write(question);
      muted = true;
      const answer = await rl.question('');
      muted = false;
      process.stderr.write('\n');
      return answer;
    } catch (error) {
      process.stderr.write('\n'); // the message starts on its own line, not after the question
      throw stoppedAtPrompt(error);
    } finally {
      rl.close();
    }
  };
}
