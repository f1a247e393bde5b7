import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { acquirePidLock } from '../../src/io/pid-lock.js';
import { exitedPid } from '../support/processes.js';
import { withTempDir } from '../support/temp-dir.js';

const held = (pid: number | 'unknown'): Error => new Error(`held by ${pid}`);
const RACER = fileURLToPath(new URL('./lock-racer.ts', import.meta.url));

test('a held lock refuses a second taker; a released one can be taken again', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'lock');
    const first = await acquirePidLock(path, held);
    assert.equal(first.tookOverStale, false);
    assert.equal((await readFile(path, 'utf8')).trim(), String(process.pid));
    await assert.rejects(acquirePidLock(path, held), { message: `held by ${process.pid}` });
    await first.release();
    const again = await acquirePidLock(path, held);
    await again.release();
    assert.equal(existsSync(path), false);
  }));

test('a lock left by a process that is gone is taken over and says so', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'lock');
    await writeFile(path, `${await exitedPid()}\n`);
    const lock = await acquirePidLock(path, held);
    assert.equal(lock.tookOverStale, true);
    assert.equal((await readFile(path, 'utf8')).trim(), String(process.pid));
    await lock.release();
  }));

test('a young lock without a pid counts as held, an old one as stale', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'lock');
    await writeFile(path, '');
    await assert.rejects(acquirePidLock(path, held), { message: 'held by unknown' });
    const past = new Date(Date.now() - 10 * 60 * 1000);
    await utimes(path, past, past);
    const lock = await acquirePidLock(path, held);
    assert.equal(lock.tookOverStale, true);
    await lock.release();
  }));

function racer(dir: string, count: number, name: string): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', RACER, dir, String(count), name], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`racer ${name}: ${err}`))));
  });
}

test('two processes racing for the same stale locks never both take one over', { timeout: 180_000 }, () =>
  withTempDir(async (dir) => {
    const count = 300;
    const dead = await exitedPid();
    for (let i = 0; i < count; i++) await writeFile(join(dir, `lock-${i}`), `${dead}\n`);
    const runs = [racer(dir, count, 'a'), racer(dir, count, 'b')];
    await waitForFiles(dir, ['ready-a', 'ready-b']);
    await writeFile(join(dir, 'go'), '');
    // A taken lock must stay held until the other racer is done trying: only then may they exit.
    await waitForFiles(dir, ['finished-a', 'finished-b']);
    await writeFile(join(dir, 'done'), '');
    const [a, b] = (await Promise.all(runs)).map((o) => new Set(JSON.parse(o) as number[])) as [
      Set<number>,
      Set<number>,
    ];
    const both = [...a].filter((i) => b.has(i));
    assert.deepEqual(both, [], 'locks taken over by both processes');
    for (let i = 0; i < count; i++) assert.ok(a.has(i) || b.has(i), `lock-${i} taken by neither`);
  }),
);

async function waitForFiles(dir: string, names: string[]): Promise<void> {
  const deadline = Date.now() + 150_000;
  while (!names.every((n) => existsSync(join(dir, n)))) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${names.join(', ')}`);
    await sleep(20);
  }
}
