/**
 * The Windows executable is a plain unsigned PE file that a publisher can sign: node.exe's own
 * Authenticode signature (which the injected client would break) is gone and the header checksum
 * is right. Signing is checked with osslsigncode, a real Authenticode signer and verifier, and a
 * throwaway self-signed certificate (signtool itself runs only on Windows).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { nodeBinary } from '../../scripts/exe/node-binary.js';
import { certificateTable, peChecksum, peLayout, withoutSignature } from '../../scripts/exe/pe.js';
import { freshExecutable } from '../helpers/exe.js';
import { skipUnlessTool } from '../helpers/skip.js';
import { runProcess } from '../support/processes.js';
import { withTempDir } from '../support/temp-dir.js';

function missing(tool: string, pkg: string): string | undefined {
  return spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0
    ? undefined
    : `${tool} (Debian package ${pkg})`;
}

test('node.exe comes signed; the built executable has no signature and the right PE checksum', async () => {
  const node = await readFile(await nodeBinary('win-x64'));
  assert.ok(certificateTable(node).size > 0, 'the pinned node.exe is signed (else this test proves nothing)');
  const exe = await readFile(await freshExecutable('win-x64'));
  assert.deepEqual(certificateTable(exe), { offset: 0, size: 0 });
  assert.equal(exe.readUInt32LE(peLayout(exe).checksumAt), peChecksum(exe));
  assert.notEqual(peChecksum(exe), 0);
});

test('withoutSignature cuts the table off the end, and refuses one in the middle of the file', async () => {
  const node = await readFile(await nodeBinary('win-x64'));
  const { offset } = certificateTable(node);
  const bare = withoutSignature(node);
  assert.equal(bare.length, offset);
  assert.deepEqual(bare.subarray(0, 0x3c), node.subarray(0, 0x3c));
  assert.equal(withoutSignature(bare), bare, 'an unsigned file is left as it is');
  const grown = Buffer.concat([node, Buffer.alloc(4096)]);
  assert.throws(() => withoutSignature(grown), /certificate table .* is not at the end of the file/);
  assert.throws(() => withoutSignature(Buffer.from('#!/bin/sh\n'.padEnd(128))), /not a PE file/);
});

test(
  'the built executable signs and verifies with osslsigncode (a publisher can sign it)',
  { skip: skipUnlessTool(missing('osslsigncode', 'osslsigncode') ?? missing('openssl', 'openssl')) },
  async () => {
    const exe = await freshExecutable('win-x64');
    await withTempDir(async (dir) => {
      const [key, cert, signed] = ['key.pem', 'cert.pem', 'signed.exe'].map((n) => join(dir, n)) as [
        string,
        string,
        string,
      ];
      const req = await runProcess('openssl', [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=notsotuf test publisher',
        '-keyout',
        key,
        '-out',
        cert,
      ]);
      assert.equal(req.code, 0, req.stderr);
      const before = await runProcess('osslsigncode', ['verify', '-in', exe]);
      assert.notEqual(before.code, 0, 'unsigned before signing');
      assert.match(before.stdout + before.stderr, /No signature found/);
      assert.doesNotMatch(before.stdout + before.stderr, /not at the end|invalid PE checksum/);
      const sign = await runProcess('osslsigncode', [
        'sign',
        '-certs',
        cert,
        '-key',
        key,
        '-in',
        exe,
        '-out',
        signed,
      ]);
      assert.equal(sign.code, 0, sign.stdout + sign.stderr);
      assert.doesNotMatch(sign.stdout + sign.stderr, /Warning/);
      const verify = await runProcess('osslsigncode', ['verify', '-CAfile', cert, '-in', signed]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      assert.match(verify.stdout, /Signature verification: ok/);
      assert.equal(certificateTable(await readFile(signed)).size > 0, true);
    });
  },
);
