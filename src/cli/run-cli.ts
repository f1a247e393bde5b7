import { parseArgs } from 'node:util';
import { NotsotufError, UsageError } from '../errors.js';
import type { Command, CommandContext } from './command.js';
import { EXIT } from './exit-codes.js';
import { optionProblem, suggestCommand } from './suggest.js';
import { jsonErrorBody, jsonErrorLine, usageBody, wantsJson } from './json-error.js';

export interface CliIo {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  prompt: CommandContext['prompt'];
}

/** Usage error codes about the command line's words: the usage line is printed after them. */
const ARGUMENT_ERRORS: ReadonlySet<string> = new Set(['MISSING_ARGUMENT', 'EXTRA_ARGUMENT', 'BAD_ARGUMENTS']);

/** A command-line program: its commands and the first line of its help. */
export interface CliProgram {
  readonly commands: readonly Command[];
  readonly title: string;
}

function findCommand(
  commands: readonly Command[],
  argv: readonly string[],
): { command: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.every((w, i) => argv[i] === w) && (best === undefined || c.path.length > best.path.length))
      best = c;
  }
  return best === undefined ? undefined : { command: best, rest: argv.slice(best.path.length) };
}

function commandLines(commands: readonly Command[]): string[] {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length), 0);
  return commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
}

/** Help of a group of commands such as `release` or `keys`. */
function groupHelp(group: string, commands: readonly Command[]): string {
  return `Usage: notsotuf ${group} <command> [options]\n\nCommands:\n${commandLines(commands).join('\n')}\n\nRun "notsotuf ${group} <command> --help" for a command's options.\n`;
}

function help(program: CliProgram): string {
  const lines = commandLines(program.commands);
  return `${program.title}\n\nUsage: notsotuf <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "notsotuf <command> --help" for a command's options.\n`;
}

function commandHelp(c: Command): string {
  const names = Object.entries(c.options ?? {}).map(
    ([name, o]) =>
      `${o.short === undefined ? '' : `-${o.short}, `}--${name}${o.type === 'string' ? ' VALUE' : ''}${o.multiple === true ? ' (repeatable)' : ''}`,
  );
  const width = Math.max(0, ...names.map((n) => n.length));
  const opts = Object.keys(c.options ?? {}).map((name, i) => {
    const text = c.optionHelp?.[name];
    return `  ${text === undefined ? names[i] : `${names[i]?.padEnd(width)}  ${text}`}`;
  });
  return `Usage: notsotuf ${c.path.join(' ')} ${c.usage}\n\n${c.summary}\n${opts.length > 0 ? `\nOptions:\n${opts.join('\n')}\n` : ''}`;
}

/** An unknown command (or group command): the error, the nearest command and the help to read. */
function unknownCommand(argv: readonly string[], io: CliIo, program: CliProgram, json: boolean): number {
  const group = program.commands.filter((c) => c.path.length > 1 && c.path[0] === argv[0]);
  if (group.length > 0 && argv[0] !== undefined) {
    const sub = argv[1];
    if (sub === '--help' || sub === '-h') {
      io.stdout.write(groupHelp(argv[0], group));
      return EXIT.ok;
    }
    const near = sub === undefined ? undefined : suggestCommand(program.commands, argv);
    const message =
      sub === undefined
        ? `"notsotuf ${argv[0]}" needs a command`
        : `unknown command "${argv[0]} ${sub}"${near === undefined ? '' : `: did you mean "notsotuf ${near}"?`}`;
    io.stderr.write(`error: ${message}\n\n${groupHelp(argv[0], group)}`);
    if (json) io.stdout.write(jsonErrorLine(usageBody('UNKNOWN_COMMAND', message)));
    return EXIT.usage;
  }
  // Only the unknown word is named (the rest are its arguments), with the nearest command.
  const near = suggestCommand(program.commands, argv);
  const message = `unknown command "${argv[0]}"${near === undefined ? '' : `: did you mean "notsotuf ${near}"?`}`;
  io.stderr.write(`error: ${message}\n\n${help(program)}`);
  if (json) io.stdout.write(jsonErrorLine(usageBody('UNKNOWN_COMMAND', message)));
  return EXIT.usage;
}

/** Runs a found command and maps what it throws to stderr, --json output and an exit code. */
async function runCommand(command: Command, ctx: CommandContext, io: CliIo, json: boolean): Promise<number> {
  try {
    return await command.run(ctx);
  } catch (error) {
    // One JSON object on stdout, on failure too (the human message still goes to stderr).
    if (json) io.stdout.write(jsonErrorLine(jsonErrorBody(error)));
    if (error instanceof NotsotufError) {
      io.stderr.write(`error: ${error.message}\n`);
      if (ARGUMENT_ERRORS.has(error.code))
        io.stderr.write(`usage: notsotuf ${command.path.join(' ')} ${command.usage}\n`);
      if (io.env.NOTSOTUF_DEBUG) io.stderr.write(`${String(error.stack)}\n`);
      return error instanceof UsageError ? EXIT.usage : EXIT.failure;
    }
    io.stderr.write(`error: unexpected failure: ${String((error as Error)?.stack ?? error)}\n`);
    return EXIT.failure;
  }
}

/**
 * Runs `program` with `argv` (without node and the script) and returns the exit code. It never exits
 * the process itself: the bin wrapper does that. The full CLI (main.ts) and the client-only one
 * (client-main.ts) differ only in the commands they pass, so the client build loads no publisher code.
 */
export async function runCli(argv: readonly string[], io: CliIo, program: CliProgram): Promise<number> {
  if (argv.length === 0) {
    io.stderr.write(help(program));
    return EXIT.usage;
  }
  if (argv[0] === 'help' && argv.length > 1) return runCli([...argv.slice(1), '--help'], io, program);
  if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout.write(help(program));
    return EXIT.ok;
  }
  if (argv[0] === '--version') {
    io.stdout.write('notsotuf 0.1.0\n');
    return EXIT.ok;
  }
  const json = wantsJson(argv);
  const found = findCommand(program.commands, argv);
  if (found === undefined) return unknownCommand(argv, io, program, json);
  const { command } = found;
  const dash = command.passthrough === true ? found.rest.indexOf('--') : -1;
  const rest = dash === -1 ? found.rest : found.rest.slice(0, dash);
  const passthrough = dash === -1 ? undefined : found.rest.slice(dash + 1);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(commandHelp(command));
    return EXIT.ok;
  }
  if (json && command.options?.json === undefined) {
    const message = `"notsotuf ${command.path.join(' ')}" has no --json output: run it without --json`;
    io.stderr.write(`error: ${message}\n`);
    io.stdout.write(jsonErrorLine(usageBody('JSON_NOT_SUPPORTED', message)));
    return EXIT.usage;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options ?? {}, allowPositionals: true, strict: true });
  } catch (cause) {
    const message = optionProblem(command, cause);
    io.stderr.write(`error: ${message}\n\n${commandHelp(command)}`);
    if (json) io.stdout.write(jsonErrorLine(usageBody('BAD_ARGUMENTS', message)));
    return EXIT.usage;
  }
  const ctx: CommandContext = {
    ...io,
    values: parsed.values,
    positionals: parsed.positionals,
    ...(passthrough !== undefined ? { passthrough } : {}),
  };
  return runCommand(command, ctx, io, json);
}
