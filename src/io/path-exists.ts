import { stat } from 'node:fs/promises';

/** Whether anything (a file or a folder) is at `path`; an error reading it counts as no. */
export async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
