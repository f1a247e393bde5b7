import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkEntry } from '../../src/archive/unpack.js';
import type { ReadEntry } from '../../src/archive/tar-reader.js';
import { DEFAULT_UNPACK_LIMITS } from '../../src/archive/index.js';
import { DataError } from '../../src/errors.js';

// These rules only apply when unpacking on Windows. checkEntry takes the platform as a value, so the
// decision is tested here on any OS; the Windows file system itself cannot be real in this suite.
function file(path: string): ReadEntry {
  return { type: 'file', typeflag: '0', path, linkTarget: '', mode: 0o644, size: 1, mtime: 0 };
}

function check(path: string, platform: NodeJS.Platform): void {
  checkEntry(file(path), new Map(), new Map(), DEFAULT_UNPACK_LIMITS, platform);
}

test('platform seam (win32 passed as a value): refuses NTFS alternate data streams "file:stream"', () => {
  assert.throws(
    () => check('app.exe:hidden', 'win32'),
    (e: unknown) => e instanceof DataError && e.code === 'ARCHIVE_BAD_PATH' && /":"/.test(e.message),
  );
  assert.doesNotThrow(() => check('app.exe:hidden', 'linux'));
});

test('platform seam (win32 passed as a value): refuses device names CON, NUL, COM1, LPT1.txt, "aux. "', () => {
  for (const name of ['CON', 'nul', 'com1', 'LPT1.txt', 'aux. ', 'Con.tar.gz']) {
    assert.throws(
      () => check(name, 'win32'),
      (e: unknown) => e instanceof DataError && /names a device/.test(e.message),
      name,
    );
  }
  for (const name of ['console', 'null.txt', 'com10', 'icon'])
    assert.doesNotThrow(() => check(name, 'win32'), name);
});
