import { resolve } from 'node:path';
import { serveRepository } from '../../repo/index.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { intOption, publisherConfig, stringOption } from './keys-shared.js';

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
  async run(ctx) {
    const dir = stringOption(ctx, 'dir');
    const root = dir === undefined ? (await publisherConfig(ctx)).repository : resolve(ctx.cwd, dir);
    const server = await serveRepository({
      root,
      port: intOption(ctx, 'port') ?? 8080,
      host: stringOption(ctx, 'host') ?? '127.0.0.1',
      onRequest: (method, path, status) => ctx.stderr.write(`${method} ${path} ${status}\n`),
    });
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
