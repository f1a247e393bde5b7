/**
 * The client as a real process that dies in the middle of writing a trusted metadata file. Writes
 * of a small file are one system call, so a kill cannot be timed into one from outside: this
 * process wraps node:fs's write functions (a named crash seam, the only fake here) so that the
 * first write to a file whose name ends in `settings.role`.json (final or temp name) in the
 * client's metadata folder puts half of its bytes on disk and then SIGKILLs the process.
 * Run: node --import tsx torn-write-child.ts SETTINGS.json
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import type { ClientOptions } from '../../src/client/client-options.js';

export interface TornWriteSettings {
  readonly options: ClientOptions;
  readonly role: 'timestamp' | 'snapshot' | 'targets' | 'root';
  readonly marker: string;
}

const s = JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8')) as TornWriteSettings;
const metadataDir = resolve(join(s.options.stateDir, 'metadata'));

const isVictim = (path: unknown): path is string =>
  typeof path === 'string' &&
  resolve(dirname(path)) === metadataDir &&
  basename(path).endsWith(`${s.role}.json`);

const open = fs.openSync;
const write = fs.writeSync;
const writeFile = fs.writeFileSync;

function tear(path: string, fd: number, bytes: Uint8Array): never {
  const half = Math.floor(bytes.length / 2);
  write(fd, bytes, 0, half);
  writeFile(s.marker, `torn ${basename(path)} after ${half} of ${bytes.length} bytes`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

const toBytes = (data: unknown): Uint8Array =>
  typeof data === 'string' ? Buffer.from(data) : (data as Uint8Array);

const victims = new Map<number, string>();
fs.openSync = (path: fs.PathLike, ...rest: unknown[]) => {
  const fd = (open as (...a: unknown[]) => number)(path, ...rest);
  if (isVictim(path)) victims.set(fd, path);
  return fd;
};
fs.writeSync = (fd: number, data: unknown, ...rest: unknown[]) => {
  const path = victims.get(fd);
  if (path !== undefined) tear(path, fd, toBytes(data));
  return (write as (...a: unknown[]) => number)(fd, data, ...rest);
};
fs.writeFileSync = (path: fs.PathOrFileDescriptor, data: unknown, ...rest: unknown[]) => {
  if (isVictim(path)) tear(path, open(path, 'w'), toBytes(data));
  return (writeFile as (...a: unknown[]) => void)(path, data, ...rest);
};
// ESM imports of node:fs (`import { writeSync } from 'node:fs'`) see the wrapped functions too.
syncBuiltinESMExports();

const { Client } = await import('../../src/client/client.js');
const update = await new Client(s.options).check();
fs.writeFileSync(s.marker, `finished: ${update.kind}`);
process.exit(0);
