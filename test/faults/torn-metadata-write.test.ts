/**
 * Fault: the client killed in the middle of writing a trusted metadata file (TUF spec 5.x: the
 * trusted metadata is what every later check starts from). The write goes to a temp file, is
 * flushed, and is renamed over the old one, so after the kill each trusted file under its final
 * name is whole (the old or the new one), and the next start checks for updates normally.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { isTempName } from '../../src/io/temp-name.js';
import { TSX_LOADER } from '../support/fixture.js';
import { exited } from './processes.js';
import type { TornWriteSettings } from './torn-write-child.js';
import { servedProject } from '../support/world.js';

const CHILD = fileURLToPath(new URL('./torn-write-child.ts', import.meta.url));

const served = servedProject(['1.0.0']);

for (const role of ['timestamp', 'snapshot', 'targets'] as const) {
  test(`killed while writing the trusted ${role}.json: every trusted file is whole, the next start finds the update`, async () => {
    const inst = await served.install(`torn-${role}`);
    try {
      // The install trusts the repository as it is; then a new release is published.
      await inst.client().check();
      const version = `1.${served.project.releases.length}.0`;
      await served.project.publish(version);
      const settings: TornWriteSettings = { options: inst.options, role, marker: join(inst.root, 'marker') };
      await writeFile(join(inst.root, 'settings.json'), JSON.stringify(settings));
      const child = spawn(
        process.execPath,
        ['--import', TSX_LOADER, CHILD, join(inst.root, 'settings.json')],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const { code, signal } = await exited(child);
      const marker = await readFile(settings.marker, 'utf8');
      assert.equal(
        signal,
        'SIGKILL',
        `the client was not killed mid-write (exit ${code}, ${marker}): ${stderr}`,
      );
      assert.match(marker, new RegExp(`^torn .*${role}\\.json after \\d+ of \\d+ bytes$`));

      const metadataDir = join(inst.stateDir, 'metadata');
      for (const name of await readdir(metadataDir)) {
        if (isTempName(name)) continue;
        const text = await readFile(join(metadataDir, name), 'utf8');
        assert.doesNotThrow(() => JSON.parse(text), `trusted ${name} is torn after the kill`);
      }

      const next = await inst.client().check();
      assert.notEqual(next.kind, 'none');
      if (next.kind !== 'none') assert.equal(next.version, version);
    } finally {
      await inst.cleanup();
    }
  });
}
