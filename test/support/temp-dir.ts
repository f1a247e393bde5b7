import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A fresh temp folder, removed after the test file has run. */
export async function tempDir(prefix = 'notsotuf-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `fn` in a fresh temp folder, removed afterwards (also when `fn` throws). */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>, prefix = 'notsotuf-'): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
