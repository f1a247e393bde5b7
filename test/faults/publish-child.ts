/**
 * `notsotuf publish` as a real process, killed with SIGKILL while it writes a file into DEST: the
 * copy runs on libuv's thread pool, and the main thread watches DEST/targets on every turn of the
 * event loop; as soon as a file there holds some but not all of its bytes, the process notes what
 * it saw and kills itself. Run: node --import tsx publish-child.ts SETTINGS.json
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { publishRepository } from '../../src/repo/publish.js';

export interface PublishChildSettings {
  readonly repository: string;
  readonly dest: string;
  /** Size of the big target whose copy is interrupted. */
  readonly bigBytes: number;
  readonly marker: string;
}

const s = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as PublishChildSettings;

const tick = (): void => {
  let names: string[] = [];
  try {
    names = readdirSync(join(s.dest, 'targets'));
  } catch {
    // not made yet
  }
  for (const name of names) {
    let size = 0;
    try {
      size = statSync(join(s.dest, 'targets', name)).size;
    } catch {
      continue; // renamed away meanwhile
    }
    if (size > 0 && size < s.bigBytes) {
      writeFileSync(s.marker, `partial ${name} ${size}/${s.bigBytes}`);
      process.kill(process.pid, 'SIGKILL');
    }
  }
  setImmediate(tick);
};
setImmediate(tick);

await publishRepository(s.repository, s.dest);
writeFileSync(s.marker, 'finished');
process.exit(0);
