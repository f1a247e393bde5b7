/**
 * How the Windows installer is started: hidden and detached, and elevated (UAC) only when the install
 * folder cannot be renamed. Elevation cannot happen here, so the probe and the spawn are mocked
 * Windows APIs; the scripts themselves run for real in windows-wine.test.ts.
 */
import assert from 'node:assert/strict';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HandoverPlan } from '../../src/client/handover.js';
import { canRenameInstallDir, startHandover } from '../../src/client/install.js';
import { windowsCommandLine, windowsEnv, windowsQuoteArg } from '../../src/client/install.windows.js';
import { handoverFiles } from '../../src/client/state-layout.js';
import { setImmutable } from '../support/handover-app.js';
import { trickyTempDir } from '../support/temp-dir.js';

interface Spawned {
  command: string;
  args: readonly string[];
  options: SpawnOptions;
}

/** Records the spawn and answers like a started child. */
function fakeSpawn(calls: Spawned[]) {
  return (command: string, args: readonly string[], options: SpawnOptions): ChildProcess => {
    calls.push({ command, args, options });
    const child = Object.assign(new EventEmitter(), { unref: () => undefined });
    setImmediate(() => child.emit('spawn'));
    return child as unknown as ChildProcess;
  };
}

async function windowsPlan(root: string): Promise<HandoverPlan> {
  const installDir = join(root, 'Prögram Files', "My App's");
  await mkdir(installDir, { recursive: true });
  return {
    appName: 'myapp',
    version: '2.0',
    previousVersion: '1.0',
    installDir,
    stagingDir: `${installDir}.staging`,
    backupDir: `${installDir}.backup`,
    pid: 4242,
    restart: { command: join(installDir, 'app.exe'), args: ['--open', 'a file.txt'] },
    stateDir: join(root, 'state'),
    healthTimeoutSeconds: 30,
    waitTimeoutSeconds: 60,
  };
}

function decode(b64: string): string {
  return Buffer.from(b64, 'base64').toString('utf16le');
}

test('mocked Windows API: a writable install folder starts cmd hidden and detached, values in its environment, no elevation', async () => {
  const { dir, remove } = await trickyTempDir('notsotuf winlaunch');
  try {
    const plan = await windowsPlan(dir);
    const calls: Spawned[] = [];
    const { script, log } = await startHandover(plan, {
      platform: 'win32',
      spawn: fakeSpawn(calls),
      canWriteInstallDir: () => Promise.resolve(true),
      comspec: 'C:\\Windows\\system32\\cmd.exe',
    });
    assert.equal(calls.length, 1);
    const [call] = calls;
    assert.equal(call!.command, 'C:\\Windows\\system32\\cmd.exe');
    assert.deepEqual(call!.args, [`/d /s /c ""${script}""`]);
    assert.equal(call!.options.detached, true);
    assert.equal(call!.options.windowsHide, true);
    assert.equal(call!.options.windowsVerbatimArguments, true);
    assert.equal(
      call!.options.cwd,
      join(plan.stateDir, 'handover'),
      "not the app's cwd, which may be the install folder",
    );
    const env = call!.options.env!;
    assert.equal(env['NOTSOTUF_INSTALL_DIR'], plan.installDir);
    assert.equal(env['NOTSOTUF_PID'], '4242');
    assert.equal(env['NOTSOTUF_RESTART_ARGS'], '--open "a file.txt"');
    assert.equal(env['NOTSOTUF_RESTART_IMAGE'], 'app.exe');
    assert.equal(env['NOTSOTUF_LOG'], log);
    // The batch files are written with CRLF line ends and hold no plan value (all come from the environment).
    const text = await readFile(script, 'utf8');
    assert.match(text, /^@echo off\r\n/);
    assert.equal(text.includes(plan.installDir), false);
    assert.equal(text.replaceAll('\r\n', '').includes('\n'), false);
    assert.match(
      await readFile(join(plan.stateDir, 'handover', 'restart.cmd'), 'utf8'),
      /NOTSOTUF_HANDOVER=1\r\n/,
    );
  } finally {
    await remove();
  }
});

test('mocked Windows API: an install folder that is not writable starts the installer through an elevated PowerShell launcher', async () => {
  const { dir, remove } = await trickyTempDir('notsotuf winlaunch');
  try {
    const plan = await windowsPlan(dir);
    const calls: Spawned[] = [];
    const probed: HandoverPlan[] = [];
    const { script } = await startHandover(plan, {
      platform: 'win32',
      spawn: fakeSpawn(calls),
      canWriteInstallDir: (p) => {
        probed.push(p);
        return Promise.resolve(false);
      },
      comspec: 'C:\\Windows\\system32\\cmd.exe',
    });
    assert.equal(probed.length, 1);
    assert.equal(calls.length, 1);
    const [call] = calls;
    assert.equal(call!.command, 'powershell.exe');
    assert.deepEqual(call!.args.slice(0, 5), [
      '-NoProfile',
      '-NonInteractive',
      '-WindowStyle',
      'Hidden',
      '-EncodedCommand',
    ]);
    assert.equal(call!.options.windowsHide, true);
    assert.equal(call!.options.detached, true);

    const outer = decode(call!.args[5]!);
    assert.match(
      outer,
      /^Start-Process -FilePath 'powershell\.exe' -Verb RunAs -WindowStyle Hidden -ArgumentList /,
    );
    const innerB64 = /-EncodedCommand ([A-Za-z0-9+/=]+)'$/.exec(outer);
    assert.ok(innerB64, outer);
    const inner = decode(innerB64[1]!);
    // The elevated process does not inherit our environment: the values travel inside the command,
    // single-quoted for PowerShell (a quote in a path is doubled), non-ASCII intact.
    assert.ok(
      inner.includes(`$env:NOTSOTUF_INSTALL_DIR = '${plan.installDir.replaceAll("'", "''")}'`),
      inner,
    );
    assert.ok(inner.includes("$env:NOTSOTUF_PID = '4242'"), inner);
    assert.ok(
      inner.endsWith(
        `Start-Process -FilePath 'C:\\Windows\\system32\\cmd.exe' -ArgumentList '/d /s /c ""${script}""' -WorkingDirectory '${join(plan.stateDir, 'handover')}' -WindowStyle Hidden`,
      ),
      inner,
    );
  } finally {
    await remove();
  }
});

test('Windows command lines: arguments are quoted the way the C runtime reads them back', () => {
  assert.equal(windowsQuoteArg('plain'), 'plain');
  assert.equal(windowsQuoteArg(''), '""');
  assert.equal(windowsQuoteArg('a b'), '"a b"');
  assert.equal(windowsQuoteArg('say "hi"'), '"say \\"hi\\""');
  assert.equal(windowsQuoteArg('C:\\dir\\'), 'C:\\dir\\');
  assert.equal(windowsQuoteArg('C:\\my dir\\'), '"C:\\my dir\\\\"');
  assert.equal(windowsQuoteArg('a\\"b'), '"a\\\\\\"b"');
  assert.equal(windowsCommandLine(['x', 'y z']), 'x "y z"');
});

test('the writability probe (real files): a writable folder needs no elevation; a missing or immutable one does', async () => {
  const { dir, remove } = await trickyTempDir('notsotuf probe');
  const parent = join(dir, 'apps');
  try {
    const plan = { ...(await windowsPlan(dir)), installDir: join(parent, 'app') };
    await mkdir(plan.installDir, { recursive: true });
    assert.equal(await canRenameInstallDir(plan), true);
    assert.deepEqual(await readdir(plan.installDir), [], 'the probe file is removed');
    assert.equal(await canRenameInstallDir({ ...plan, installDir: join(parent, 'missing') }), false);
    if (setImmutable(parent, true)) {
      try {
        assert.equal(await canRenameInstallDir(plan), false, 'the parent cannot take the backup folder');
      } finally {
        setImmutable(parent, false);
      }
    }
  } finally {
    await remove();
  }
});

test('the image name used to find a hung new version: plain and spaced names are kept, names cmd would parse are not', async () => {
  const { dir, remove } = await trickyTempDir('notsotuf image');
  try {
    const plan = await windowsPlan(dir);
    const image = (command: string) =>
      windowsEnv({ ...plan, restart: { command, args: [] } }, handoverFiles(plan.stateDir, 'windows'))[
        'NOTSOTUF_RESTART_IMAGE'
      ];
    assert.equal(image('C:\\Apps\\My App\\My App.exe'), 'My App.exe');
    assert.equal(image('C:\\Apps\\x\\app-1_2.exe'), 'app-1_2.exe');
    assert.equal(image('C:\\Apps\\x\\a&b.exe'), '');
    assert.equal(image('C:\\Apps\\x\\a%PATH%.exe'), '');
    assert.equal(image('C:\\Apps\\x\\Prögram.exe'), '');
  } finally {
    await remove();
  }
});

/**
 * Reads one PowerShell single-quoted string literal at `at` the way PowerShell's tokenizer does
 * (language spec 2.3.5.2): U+0027 and the typographic quotes U+2018, U+2019, U+201A, U+201B all
 * open, close and (doubled) escape it. Returns the value and where the literal ends.
 */
function readPsSingleQuoted(text: string, at: number): { value: string; end: number } {
  const quote = /['\u2018\u2019\u201a\u201b]/;
  assert.ok(quote.test(text[at] ?? ''), `a quote at ${at}: ${text.slice(at, at + 20)}`);
  let value = '';
  let i = at + 1;
  for (;;) {
    const c = text[i];
    assert.ok(c !== undefined, 'unterminated literal');
    if (quote.test(c)) {
      if (quote.test(text[i + 1] ?? '')) {
        value += text[i + 1];
        i += 2;
        continue;
      }
      return { value, end: i + 1 };
    }
    value += c;
    i += 1;
  }
}

test('mocked Windows API: values with typographic quotes (which PowerShell also takes as quotes) cannot end their literal in the elevated launcher', async () => {
  const { dir, remove } = await trickyTempDir('notsotuf winlaunch');
  try {
    const base = await windowsPlan(dir);
    const installDir = join(dir, 'O\u2019Brien\u2018s apps', 'app');
    await mkdir(installDir, { recursive: true });
    const evil = 'x\u2019; Start-Process calc; \u2018';
    const plan: HandoverPlan = {
      ...base,
      installDir,
      stagingDir: `${installDir}.staging`,
      backupDir: `${installDir}.backup`,
      restart: { command: join(installDir, 'app.exe'), args: [evil, 'it\u201as', 'b\u201bc'] },
    };
    const calls: Spawned[] = [];
    await startHandover(plan, {
      platform: 'win32',
      spawn: fakeSpawn(calls),
      canWriteInstallDir: () => Promise.resolve(false),
      comspec: 'C:\\Windows\\system32\\cmd.exe',
    });
    const outer = decode(calls[0]!.args[5]!);
    const inner = decode(/-EncodedCommand ([A-Za-z0-9+/=]+)'$/.exec(outer)![1]!);
    const expected = windowsEnv(plan, handoverFiles(plan.stateDir, 'windows'));
    const lines = inner.split('\n');
    for (const [name, value] of Object.entries(expected)) {
      const line = lines.find((l) => l.startsWith(`$env:${name} = `));
      assert.ok(line !== undefined, `a line sets ${name}`);
      const literal = readPsSingleQuoted(line, `$env:${name} = `.length);
      assert.equal(literal.value, value, `${name} reads back exactly`);
      assert.equal(literal.end, line.length, `nothing runs after the value of ${name}: ${line}`);
    }
  } finally {
    await remove();
  }
});
