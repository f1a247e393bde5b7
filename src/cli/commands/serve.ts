import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError, messageOf } from '../../errors.js';
import { serveRepository } from '../../repo/index.js';
import type { RunningServer } from '../../repo/index.js';
import { noExtraArguments } from '../arguments.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { CONFIG_HELP, intOption, publisherConfig, stringOption } from './keys-shared.js';

/** Errors of listen() that mean "pick another --port or --host", not a bug. */
const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'is already in use: stop the other server or pick another --port (0 picks a free one)',
  EACCES: 'needs privileges: use a --port above 1023',
  EADDRNOTAVAIL: 'is not an address of this machine: use --host 127.0.0.1',
  ENOTFOUND: 'is not a known host name: use --host 127.0.0.1',
};

export const serveCommand: Command = {
  path: ['serve'],
  summary: 'Serve the repository over HTTP on 127.0.0.1 for development (Ctrl-C stops)',
  usage: '[--port N] [--host 127.0.0.1] [--dir FOLDER | --config FILE]',
  options: {
    config: { type: 'string' },
    dir: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
  },
  optionHelp: {
    ...CONFIG_HELP,
    dir: 'serve this folder instead (e.g. a published copy)',
    port: 'TCP port (default 8080; 0 picks a free one)',
    host: 'address to listen on (default 127.0.0.1)',
  },
  async run(ctx) {
    noExtraArguments(ctx);
    const port = intOption(ctx, 'port') ?? 8080;
    if (port > 65535) throw new UsageError('INVALID_OPTION', `--port must be from 0 to 65535, got ${port}`);
    const host = stringOption(ctx, 'host') ?? '127.0.0.1';
    const dir = stringOption(ctx, 'dir');
    const root = dir === undefined ? (await publisherConfig(ctx)).repository : resolve(ctx.cwd, dir);
    const info = await stat(root).catch(() => undefined);
    if (info === undefined) {
      throw new UsageError(
        'NOT_A_REPOSITORY',
        `${root} does not exist: pass the repository folder with --dir`,
      );
    }
    if (!info.isDirectory()) {
      throw new UsageError(
        'NOT_A_REPOSITORY',
        `${root} is a file, not a folder: pass the repository folder (it holds metadata/ and targets/) with --dir`,
      );
    }
    let server: RunningServer;
    try {
      server = await serveRepository({
        root,
        port,
        host,
        onRequest: (method, path, status) => ctx.stderr.write(`${method} ${path} ${status}\n`),
      });
    } catch (error) {
      // The library says it in its own words (CANNOT_LISTEN); here the advice names the flags.
      const listen = (error as { cause?: { code?: unknown } }).cause;
      const advice = typeof listen?.code === 'string' ? LISTEN_ERRORS[listen.code] : undefined;
      if (advice === undefined) throw error;
      throw new UsageError('CANNOT_LISTEN', `${host}:${port} ${advice} (${messageOf(listen)})`, {
        cause: error,
      });
    }
    ctx.stdout.write(
      `Serving ${root}\n  metadata: ${server.url}/metadata/\n  targets:  ${server.url}/targets/\nPress Ctrl-C to stop.\n`,
    );
    await new Promise<void>((done) => {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    await server.close();
    return EXIT.ok;
  },
};
