import type { ParseArgsConfig } from 'node:util';

/** What a command gets: its parsed arguments and the process's edges, passed in (never globals). */
export interface CommandContext {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
  /** The words after `--`, for commands with `passthrough` (another program's command line). */
  readonly passthrough?: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Asks a question on the terminal; undefined when there is no terminal (then use defaults or fail). */
  readonly prompt: ((question: string, options?: { secret?: boolean }) => Promise<string>) | undefined;
}

export interface Command {
  /** The words that select it, e.g. ['release', 'add']. */
  readonly path: readonly string[];
  readonly summary: string;
  /** Usage line(s) after `notsotuf <path>`, e.g. 'VERSION FOLDER [--required]'. */
  readonly usage: string;
  readonly options?: NonNullable<ParseArgsConfig['options']>;
  /** Words after `--` are another program's command line: not parsed, given as `passthrough`. */
  readonly passthrough?: boolean;
  /** One line per option for `--help` (the option's name without dashes -> what it does). */
  readonly optionHelp?: Readonly<Record<string, string>>;
  /** Resolves to the exit code. Throw NotsotufError for failures: the CLI prints it and exits non-zero. */
  run(ctx: CommandContext): Promise<number>;
}
