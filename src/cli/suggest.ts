import type { Command } from './command.js';

/**
 * "Did you mean" for typos on the command line: the nearest command or option by edit distance
 * (insertions, deletions, substitutions and swaps of neighbours: `yse` -> `yes`), when it is near
 * enough to be a typo and not another word.
 */

/** Optimal string alignment distance (Damerau-Levenshtein without repeated edits of a substring). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The candidate nearest to `word`, if within a typo's reach (1 edit, or 2 for longer words). */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const limit = word.length <= 4 ? 1 : word.length <= 8 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best;
}

/**
 * The command `argv` most likely meant, as words ("release add"), or undefined. The first word is
 * matched against the top-level words; for a group (release, keys), the second word against the
 * group's commands (the group alone when the second word is near none of them).
 */
export function suggestCommand(commands: readonly Command[], argv: readonly string[]): string | undefined {
  const [first, second] = argv;
  if (first === undefined) return undefined;
  const tops = [...new Set(commands.map((c) => c.path[0] ?? ''))];
  const top = tops.includes(first) ? first : nearest(first, tops);
  if (top === undefined) return undefined;
  const group = commands.filter((c) => c.path[0] === top && c.path.length > 1);
  if (group.length === 0) return top === first ? undefined : top;
  const subs = group.map((c) => c.path[1] ?? '');
  if (second === undefined || second.startsWith('-')) return top === first ? undefined : top;
  const sub = subs.includes(second) ? second : nearest(second, subs);
  if (sub === undefined) return top === first ? undefined : top;
  const words = `${top} ${sub}`;
  return words === `${first} ${second}` ? undefined : words;
}

/** Node's parseArgs errors, said the way the rest of the CLI says things (with a suggestion). */
export function optionProblem(command: Command, error: unknown): string {
  const e = error as { code?: string; message?: string };
  const message = String(e.message ?? error);
  const name = /'(-{1,2}[^'\s,]+)/.exec(message)?.[1];
  const where = `"notsotuf ${command.path.join(' ')}"`;
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && name !== undefined) {
    const known = Object.keys(command.options ?? {});
    const near = name.startsWith('--') ? nearest(name.slice(2), known) : undefined;
    return near === undefined
      ? `unknown option ${name} for ${where} (see the options below)`
      : `unknown option ${name} for ${where}: did you mean --${near}?`;
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const long = /--([A-Za-z0-9-]+)/.exec(message)?.[1];
    if (long !== undefined && /argument missing/.test(message))
      return `--${long} needs a value (--${long} VALUE)`;
    if (long !== undefined && /does not take an argument/.test(message)) return `--${long} takes no value`;
  }
  return message;
}
