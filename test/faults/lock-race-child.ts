/**
 * A second (or first) instance of the app as a real process, for the update-lock race tests.
 * `install`: checks and installs (stages, no restart); with `pauseAt`, at that stage it writes
 * `paused` and blocks (synchronously: the whole process stands still, holding whatever it holds)
 * until the file `go` appears. `check`: a fresh start that only checks (its start-up clean-up runs).
 * Writes its outcome as JSON to `out`. Run: node --import tsx lock-race-child.ts SETTINGS.json
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Client } from '../../src/client/client.js';
import type { ClientOptions, InstallStage } from '../../src/client/client-options.js';

export interface RaceSettings {
  readonly options: ClientOptions;
  readonly action: 'install' | 'check';
  /** The process the installer would wait for (never started here). */
  readonly pid: number;
  readonly out: string;
  readonly pauseAt?: InstallStage;
  readonly paused?: string;
  readonly go?: string;
}

export type RaceOutcome =
  | { readonly ok: true; readonly kind: string; readonly version?: string }
  | { readonly ok: false; readonly name: string; readonly code?: string; readonly message: string };

const settings = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as RaceSettings;

function holdUntilGo(): void {
  writeFileSync(settings.paused!, `${process.pid}`);
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 300_000;
  while (!existsSync(settings.go!)) {
    if (Date.now() > deadline) throw new Error('never told to go on');
    Atomics.wait(cell, 0, 0, 20);
  }
}

let outcome: RaceOutcome;
try {
  const client = new Client(settings.options);
  const update = await client.check();
  if (settings.action === 'check' || update.kind === 'none') {
    outcome = { ok: true, kind: update.kind };
  } else {
    const staged = await client.install(update, {
      restart: false,
      pid: settings.pid,
      onStage: (stage) => {
        if (stage === settings.pauseAt) holdUntilGo();
      },
    });
    outcome = { ok: true, kind: update.kind, version: staged.version };
  }
} catch (error) {
  const e = error as Error & { code?: string };
  outcome = {
    ok: false,
    name: e.name,
    ...(e.code !== undefined ? { code: e.code } : {}),
    message: e.message,
  };
}
writeFileSync(settings.out, JSON.stringify(outcome));
