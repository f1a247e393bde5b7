import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import type { CommandContext } from './command.js';

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
    } finally {
      rl.close();
    }
  };
}
