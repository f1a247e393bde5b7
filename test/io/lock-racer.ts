// A process that races another one for stale locks: waits for DIR/go, then tries to take each of
// DIR/lock-0 .. lock-(N-1) once (never releasing), and prints the indexes it took as JSON.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquirePidLock } from '../../src/io/pid-lock.js';

const [dir = '', count = '0', name = ''] = process.argv.slice(2);
await writeFile(join(dir, `ready-${name}`), '');
while (!existsSync(join(dir, 'go'))) await sleep(5);
const took: number[] = [];
for (let i = 0; i < Number(count); i++) {
  try {
    await acquirePidLock(join(dir, `lock-${i}`), (pid) => new Error(`held by ${pid}`));
    took.push(i);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('held by')) throw error;
  }
}
process.stdout.write(JSON.stringify(took));
await writeFile(join(dir, `finished-${name}`), '');
// Stay alive until told: a lock taken here must look held to the other racer until it is done.
while (!existsSync(join(dir, 'done'))) await sleep(5);
