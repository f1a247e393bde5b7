import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../../client/index.js';
import type { DownloadProgress, HandoverResult, StagedUpdate, Update } from '../../client/index.js';
import { readHandoverResult } from '../../client/index.js';
import { InstallError, UsageError } from '../../errors.js';
import {
  CLIENT_CONFIG_HELP,
  CLIENT_CONFIG_OPTIONS,
  clientOptionsFrom,
  noteStaleVersion,
} from '../client-config.js';
import { formatSize } from '../format-size.js';
import { noExtraArguments } from '../arguments.js';
import type { Command, CommandContext } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { progressBar } from '../progress-bar.js';

const WAIT_TIMEOUT_SECONDS = 30;

/**
 * The pid of a process that has already exited. `update --yes` runs while the app is not running,
 * so there is nothing to wait for; the installer's contract waits for a pid, and this one is gone.
 */
function exitedPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => (child.pid === undefined ? reject(new Error('no pid')) : resolve(child.pid)));
  });
}

async function waitForResult(stateDir: string, seconds: number): Promise<HandoverResult | undefined> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const result = await readHandoverResult(stateDir);
    if (result !== undefined) return result;
    await sleep(100);
  }
  return undefined;
}

/** The process `--restart` waits for: `--wait-pid`, else the process that started the client. */
function waitPid(ctx: CommandContext): number {
  const flag = ctx.values['wait-pid'];
  if (flag === undefined) return process.ppid;
  const pid = typeof flag === 'string' && /^\d{1,10}$/.test(flag) ? Number(flag) : NaN;
  if (!Number.isSafeInteger(pid) || pid <= 1)
    throw new UsageError('BAD_ARGUMENTS', `--wait-pid "${String(flag)}" must be the app's process id`);
  return pid;
}

/**
 * How the installer restarts the app: the words after `--` (the program as given), else
 * update.json's `command` (program relative to the install folder), in the client's working folder.
 */
function restartCommand(
  ctx: CommandContext,
  configured: readonly string[] | undefined,
): { command: string; args: string[]; cwd: string } {
  const [command, ...args] =
    ctx.passthrough !== undefined && ctx.passthrough.length > 0 ? ctx.passthrough : (configured ?? []);
  if (command === undefined || command === '')
    throw new UsageError(
      'RESTART_COMMAND_MISSING',
      'update --restart needs the command that starts the app: add "command": ["<program in the install folder>", "ARGS..."] to update.json, or give it after "--" (update --restart -- PROGRAM ARGS...)',
    );
  return { command, args, cwd: ctx.cwd };
}

export const updateCommand: Command = {
  path: ['update'],
  summary:
    'Download, verify and install an update (exit 0: none, 11: updated, or handed over with --restart)',
  usage:
    '--config FILE | (settings as for check) [--yes] [--restart [--wait-pid PID] [-- COMMAND ARGS...]] [--json]',
  options: {
    ...CLIENT_CONFIG_OPTIONS,
    yes: { type: 'boolean' },
    restart: { type: 'boolean' },
    'wait-pid': { type: 'string' },
  },
  passthrough: true,
  optionHelp: {
    ...CLIENT_CONFIG_HELP,
    yes: 'install without asking (without --restart: the app must not be running)',
    restart:
      'the app is running: hand over to the installer, which waits for the app to exit, swaps, restarts it (command from update.json or after --) and rolls back unless the new version runs "notsotuf confirm" in time',
    'wait-pid': 'with --restart: the app process to wait for (default: the process that started this one)',
  },
  async run(ctx) {
    noExtraArguments(ctx);
    const restart = ctx.values.restart === true;
    if (!restart && (ctx.values['wait-pid'] !== undefined || ctx.passthrough !== undefined))
      throw new UsageError('BAD_ARGUMENTS', '--wait-pid and "-- COMMAND" go with --restart');
    const options = await clientOptionsFrom(ctx);
    // Refused before anything is downloaded.
    const restartWith = restart ? restartCommand(ctx, options.command) : undefined;
    const pid = restart ? waitPid(ctx) : undefined;
    const client = new Client(restart ? options : { ...options, waitTimeoutSeconds: WAIT_TIMEOUT_SECONDS });
    const json = ctx.values.json === true;
    const update = await client.check();
    noteStaleVersion(ctx, options.currentVersion, client.currentVersion);
    if (update.kind === 'none') {
      if (json)
        ctx.stdout.write(`${JSON.stringify({ status: 'none', currentVersion: client.currentVersion })}\n`);
      else ctx.stdout.write(`${client.appName} ${client.currentVersion} is up to date\n`);
      return EXIT.ok;
    }
    if (ctx.values.yes !== true) {
      if (ctx.prompt === undefined) {
        throw new UsageError(
          'CONFIRMATION_NEEDED',
          `an update to ${update.version} is available: pass --yes to install it now (only while the app is not running)`,
        );
      }
      const answer = await ctx.prompt(`Install ${client.appName} ${update.version} now? [y/N] `);
      if (!/^y(es)?$/i.test(answer.trim())) {
        ctx.stdout.write('not installed\n');
        return EXIT.updateAvailable;
      }
    }
    if (!json) {
      const how = update.kind === 'patches' ? `${update.chain.length} patch(es)` : 'full archive';
      ctx.stderr.write(
        `updating ${client.appName} ${client.currentVersion} -> ${update.version} (${how}, ${formatSize(update.downloadBytes)})\n`,
      );
    }
    const onProgress = progressBar(ctx);
    const how = { json, ...(onProgress ? { onProgress } : {}) };
    if (restartWith !== undefined && pid !== undefined)
      return handOverAndRestart(ctx, client, update, { ...how, restart: restartWith, pid });
    return installNow(ctx, client, update, how);
  },
};

interface HowToInstall {
  readonly json: boolean;
  readonly onProgress?: (p: DownloadProgress) => void;
}

/** The fields of the JSON answer after an update was staged (the version is still the previous). */
function stagedFields(client: Client, update: Update, staged: StagedUpdate): Record<string, unknown> {
  return {
    previousVersion: client.currentVersion,
    version: staged.version,
    via: staged.via,
    fellBack: staged.fellBack,
    downloadBytes: update.downloadBytes,
  };
}

/** `--restart`: hand over to the installer, which waits for process `pid`, swaps and restarts the app. */
async function handOverAndRestart(
  ctx: CommandContext,
  client: Client,
  update: Update,
  how: HowToInstall & {
    readonly restart: { command: string; args: string[]; cwd: string };
    readonly pid: number;
  },
): Promise<number> {
  const { pid } = how;
  const staged = await client.install(update, {
    restart: how.restart,
    pid,
    ...(how.onProgress ? { onProgress: how.onProgress } : {}),
  });
  const { log } = await staged.quitAndInstall();
  if (how.json) {
    ctx.stdout.write(
      `${JSON.stringify({ status: 'handed-over', ...stagedFields(client, update, staged), waitPid: pid, log })}\n`,
    );
  } else {
    ctx.stdout.write(
      `handed over: ${client.appName} ${staged.version} is installed once process ${pid} exits, then restarted (it must run "notsotuf confirm"); log: ${log}\n`,
    );
  }
  return EXIT.updated;
}

/** The app is not running: the installer swaps at once; wait for its result. */
async function installNow(
  ctx: CommandContext,
  client: Client,
  update: Update,
  how: HowToInstall,
): Promise<number> {
  const staged = await client.install(update, {
    restart: false,
    pid: await exitedPid(),
    ...(how.onProgress ? { onProgress: how.onProgress } : {}),
  });
  const { log } = await staged.quitAndInstall();
  const result = await waitForResult(client.stateDir, WAIT_TIMEOUT_SECONDS + 10);
  if (result === undefined) {
    throw new InstallError('INSTALL_TIMEOUT', `the installer did not finish in time: see its log ${log}`);
  }
  if (result.outcome !== 'installed') {
    throw new InstallError(
      'INSTALL_FAILED',
      `installing ${update.version} failed (${result.reason ?? result.outcome}); ${client.currentVersion} is still installed: see ${log}`,
    );
  }
  if (how.json) {
    ctx.stdout.write(`${JSON.stringify({ status: 'updated', ...stagedFields(client, update, staged) })}\n`);
  } else {
    ctx.stdout.write(
      `updated ${client.appName} ${client.currentVersion} -> ${staged.version} (by ${staged.via === 'patches' ? 'patches' : 'full archive'}${staged.fellBack ? ', a patch failed' : ''})\n`,
    );
  }
  return EXIT.updated;
}
