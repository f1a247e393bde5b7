import { createInterface } from 'node:readline/promises';
import type { CommandContext } from './command.js';

/** A terminal prompt on stdin/stderr, or undefined when stdin is not a terminal. */
export function terminalPrompt(): CommandContext['prompt'] {
  if (!process.stdin.isTTY) return undefined;
  return async (question, options) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    try {
      if (options?.secret === true) {
        // Hide typed characters: readline echoes through _writeToOutput.
        const r = rl as unknown as { _writeToOutput: (s: string) => void };
        process.stderr.write(question);
        r._writeToOutput = () => undefined;
        const answer = await rl.question('');
        process.stderr.write('\n');
        return answer;
      }
      return await rl.question(question);
    } finally {
      rl.close();
    }
  };
}
