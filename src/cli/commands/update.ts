import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../../client/client.js';
import type { DownloadProgress } from '../../client/client-options.js';
import type { HandoverResult } from '../../client/handover.js';
import { readHandoverResult } from '../../client/handover.js';
import { InstallError, UsageError } from '../../errors.js';
import {
  CLIENT_CONFIG_HELP,
  CLIENT_CONFIG_OPTIONS,
  clientOptionsFrom,
  formatBytes,
} from '../client-config.js';
import { noExtraArguments } from '../arguments.js';
import type { Command, CommandContext } from '../command.js';
import { EXIT } from '../exit-codes.js';

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

function progressBar(ctx: CommandContext): ((p: DownloadProgress) => void) | undefined {
  const stream = ctx.stderr as { isTTY?: boolean; columns?: number };
  if (stream.isTTY !== true || ctx.values.json === true) return undefined;
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 100 && p.bytesDone < p.totalBytes) return;
    last = now;
    const width = 30;
    const fraction = p.totalBytes > 0 ? Math.min(1, p.bytesDone / p.totalBytes) : 1;
    const filled = Math.round(fraction * width);
    ctx.stderr.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ` +
        `${formatBytes(p.bytesDone)} / ${formatBytes(p.totalBytes)} ${formatBytes(Math.round(p.bytesPerSecond))}/s\u001b[K` +
        (p.bytesDone >= p.totalBytes ? '\n' : ''),
    );
  };
}

export const updateCommand: Command = {
  path: ['update'],
  summary: 'Download, verify and install an update while the app is not running (exit 0: none, 11: updated)',
  usage: '--config FILE | (settings as for check) [--yes] [--json]',
  options: { ...CLIENT_CONFIG_OPTIONS, yes: { type: 'boolean' } },
  optionHelp: {
    ...CLIENT_CONFIG_HELP,
    yes: 'install without asking (the app must not be running; no restart)',
  },
  async run(ctx) {
    noExtraArguments(ctx);
    const options = await clientOptionsFrom(ctx);
    const client = new Client({ ...options, waitTimeoutSeconds: WAIT_TIMEOUT_SECONDS });
    const json = ctx.values.json === true;
    const update = await client.check();
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
        `updating ${client.appName} ${client.currentVersion} -> ${update.version} (${how}, ${formatBytes(update.downloadBytes)})\n`,
      );
    }
    const onProgress = progressBar(ctx);
    const staged = await client.install(update, {
      restart: false,
      pid: await exitedPid(),
      ...(onProgress ? { onProgress } : {}),
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
    if (json) {
      ctx.stdout.write(
        `${JSON.stringify({
          status: 'updated',
          previousVersion: client.currentVersion,
          version: staged.version,
          via: staged.via,
          fellBack: staged.fellBack,
          downloadBytes: update.downloadBytes,
        })}\n`,
      );
    } else {
      ctx.stdout.write(
        `updated ${client.appName} ${client.currentVersion} -> ${staged.version} (by ${staged.via === 'patches' ? 'patches' : 'full archive'}${staged.fellBack ? ', a patch failed' : ''})\n`,
      );
    }
    return EXIT.updated;
  },
};
