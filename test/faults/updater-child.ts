/**
 * The updater as a real process, for the SIGKILL tests: checks and installs with the Client, and
 * kills itself with SIGKILL at the step named in its settings (during the download, while the patch
 * is being applied, while the archive is being unpacked), after writing what it saw to a marker
 * file (so the test knows the kill landed inside the step); also while the installed version's
 * tar is packed from the install folder (the patch source: during the check, which keeps it). Run: node --import tsx updater-child.ts SETTINGS.json
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import type { ClientOptions } from '../../src/client/client-options.js';
import { isTempName } from '../../src/io/temp-name.js';

export type KillAt = 'download' | 'source' | 'patching' | 'unpacking' | 'none';

export interface ChildSettings {
  readonly options: ClientOptions;
  readonly killAt: KillAt;
  readonly marker: string;
  /** The process the installer would wait for (never started here; install only stages). */
  readonly pid: number;
}

const settings = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ChildSettings;

function die(seen: string): void {
  writeFileSync(settings.marker, seen);
  process.kill(process.pid, 'SIGKILL');
}

/** Probes on every turn of the event loop, so the kill lands between two I/O steps of the work. */
function killWhen(probe: () => string | undefined): void {
  const tick = (): void => {
    const seen = probe();
    if (seen !== undefined) die(seen);
    else setImmediate(tick);
  };
  setImmediate(tick);
}

/** The installed version's tar being packed from the folder into a hidden temp file in tars/. */
function sourceTarProbe(): string | undefined {
  try {
    const tmp = readdirSync(join(settings.options.stateDir, 'tars')).find((n) => n.startsWith('.'));
    return tmp === undefined
      ? undefined
      : `source ${statSync(join(settings.options.stateDir, 'tars', tmp)).size}`;
  } catch {
    return undefined;
  }
}

const client = new Client(settings.options);
// The check packs the install folder into tars/ while it hashes it (so the update need not read the
// folder again); an install with no cached tar does it in its source stage.
if (settings.killAt === 'source') killWhen(sourceTarProbe);
const update = await client.check();
if (update.kind === 'none') {
  writeFileSync(settings.marker, 'no update');
  process.exit(2);
}
const work = join(settings.options.stateDir, 'work');
const staging = `${client.installDir}.notsotuf-staging-${update.version}`;
await client.install(update, {
  restart: false,
  pid: settings.pid,
  onProgress: (p) => {
    if (
      settings.killAt === 'download' &&
      p.stage === 'download' &&
      p.bytesDone > 0 &&
      p.bytesDone < p.totalBytes
    )
      die(`download ${p.bytesDone}/${p.totalBytes}`);
  },
  onStage: (stage) => {
    if (settings.killAt === 'patching' && stage === 'rebuild')
      killWhen(() => {
        try {
          const tmp = readdirSync(work).find((n) => isTempName(n) && n.endsWith(`-${update.version}.tar`));
          return tmp === undefined ? undefined : `patching ${statSync(join(work, tmp)).size}`;
        } catch {
          return undefined;
        }
      });
    if (settings.killAt === 'unpacking' && stage === 'unpack')
      killWhen(() => {
        try {
          const n = readdirSync(staging).length;
          return n > 0 ? `unpacking ${n}` : undefined;
        } catch {
          return undefined;
        }
      });
  },
});
// The step ended before a probe saw it: say so, and stop the probes (they would spin forever).
writeFileSync(settings.marker, 'finished');
process.exit(0);
