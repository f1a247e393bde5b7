// One client update, run as its own process by bench/update.ts so its peak memory is the client's
// alone. Prints one JSON line: the time and the process's peak RSS at the end of each step.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '../src/client/client.js';
import type { ClientOptions } from '../src/client/client-options.js';
import { readHandoverResult } from '../src/client/handover.js';

interface Step {
  step: string;
  seconds: number;
  peakMb: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as ClientOptions;
const steps: Step[] = [];
let mark = performance.now();
const done = (step: string): void => {
  const now = performance.now();
  steps.push({ step, seconds: (now - mark) / 1000, peakMb: process.resourceUsage().maxRSS / 1024 });
  mark = now;
};

function exitedPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => (child.pid === undefined ? reject(new Error('no pid')) : resolve(child.pid)));
  });
}

const client = new Client(options);
const update = await client.check();
if (update.kind === 'none') throw new Error('no update found');
done('check');
await client.download(update);
done('download');
let current = '';
const staged = await client.install(update, {
  restart: false,
  pid: await exitedPid(),
  onStage: (stage) => {
    if (current !== '') done(current === 'download' ? 'recheck downloads' : current);
    current = stage;
  },
});
const { log } = await staged.quitAndInstall();
for (;;) {
  const result = await readHandoverResult(client.stateDir);
  if (result !== undefined) {
    if (result.outcome !== 'installed') throw new Error(`install ${result.outcome}: see ${log}`);
    break;
  }
  await sleep(20);
}
done('swap');
process.stdout.write(
  `${JSON.stringify({ kind: update.kind, via: staged.via, downloadBytes: update.downloadBytes, steps })}\n`,
);
