import { createReadStream } from 'node:fs';
import { listFolder } from './list-folder.js';
import { readTar } from './tar-reader.js';

/**
 * The paths of the files and links (not folders) of an app folder, as packing would store them.
 * Refuses what packing refuses, so a bad folder is reported before any work.
 */
export async function folderFilePaths(folder: string): Promise<string[]> {
  return (await listFolder(folder)).filter((e) => e.type !== 'dir').map((e) => e.path);
}

/** The paths of the files and links (not folders) in an uncompressed notsotuf tar. */
export async function tarFilePaths(tarPath: string): Promise<string[]> {
  const out: string[] = [];
  for await (const { entry } of readTar(createReadStream(tarPath) as AsyncIterable<Buffer>)) {
    if (entry.type !== 'dir') out.push(entry.path);
  }
  return out;
}
