import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { appendFileSync, truncateSync } from 'node:fs';
import { createServer } from 'node:net';
import {
  chmod,
  link,
  open,
  lstat,
  mkdir,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { list as tarList } from 'tar';
import { gunzipTo, hashFolderAsTar, packFolder, packTar, unpackArchive } from '../../src/archive/index.js';
import { UsageError } from '../../src/errors.js';
import { listTree, tempDir } from './tar-builder.js';
import { skipTestUnlessTool } from '../helpers/skip.js';

const LONG_DIR = 'a-folder-name-that-is-quite-long-'.repeat(4); // 132 bytes
const UNICODE = 'données-日本語-\u00e9t\u00e9 ✓.txt';

/** A folder with everything the format must carry. */
async function makeApp(root: string): Promise<string> {
  const app = join(root, 'MyApp.app');
  await mkdir(join(app, 'Contents', 'MacOS'), { recursive: true });
  await mkdir(join(app, 'Contents', 'Frameworks', 'Lib.framework', 'Versions', 'A'), { recursive: true });
  await mkdir(join(app, 'empty-dir'));
  await mkdir(join(app, LONG_DIR));
  await writeFile(join(app, 'Contents', 'MacOS', 'myapp'), '#!/bin/sh\necho hi\n');
  await chmod(join(app, 'Contents', 'MacOS', 'myapp'), 0o700); // any exec bit -> 0755
  await writeFile(join(app, 'Contents', 'Frameworks', 'Lib.framework', 'Versions', 'A', 'Lib'), 'library');
  await chmod(join(app, 'Contents', 'Frameworks', 'Lib.framework', 'Versions', 'A', 'Lib'), 0o600); // -> 0644
  // the macOS framework layout: Versions/Current -> A, Lib -> Versions/Current/Lib
  await symlink('A', join(app, 'Contents', 'Frameworks', 'Lib.framework', 'Versions', 'Current'));
  await symlink('Versions/Current/Lib', join(app, 'Contents', 'Frameworks', 'Lib.framework', 'Lib'));
  await writeFile(join(app, 'empty-file'), '');
  await writeFile(join(app, LONG_DIR, `${'n'.repeat(90)}.bin`), Buffer.from([0, 1, 2, 255]));
  await symlink(`../${LONG_DIR}/${'n'.repeat(90)}.bin`, join(app, 'empty-dir', 'long-link'));
  await writeFile(join(app, UNICODE), 'unicode');
  await writeFile(join(app, 'big.bin'), Buffer.alloc(300_000, 7));
  return app;
}

interface Node {
  type: string;
  mode?: number;
  size?: number;
  data?: string;
  target?: string;
}

async function snapshot(dir: string): Promise<Record<string, Node>> {
  const out: Record<string, Node> = {};
  for (const p of await listTree(dir)) {
    const full = join(dir, p);
    const s = await lstat(full);
    if (s.isSymbolicLink()) out[p] = { type: 'symlink', target: await readlink(full) };
    else if (s.isDirectory()) out[p] = { type: 'dir', mode: s.mode & 0o777 };
    else
      out[p] = {
        type: 'file',
        mode: s.mode & 0o777,
        size: s.size,
        data: createHash('sha256')
          .update(await readFile(full))
          .digest('hex'),
      };
  }
  return out;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

test('packing the same folder twice gives byte-identical tar and tar.gz, whatever the mtimes', async () => {
  const root = await tempDir();
  try {
    const app = await makeApp(root);
    const one = await packFolder(app, join(root, 'one.tar.gz'), { tarPath: join(root, 'one.tar') });
    await utimes(join(app, 'big.bin'), new Date(2020, 1, 1), new Date(2020, 1, 1));
    const two = await packFolder(app, join(root, 'two.tar.gz'), { tarPath: join(root, 'two.tar') });
    assert.deepEqual(one, two);
    assert.deepEqual(await readFile(join(root, 'one.tar')), await readFile(join(root, 'two.tar')));
    assert.deepEqual(await readFile(join(root, 'one.tar.gz')), await readFile(join(root, 'two.tar.gz')));
    const gz = await readFile(join(root, 'one.tar.gz'));
    assert.equal(one.archive.sha256, sha256(gz));
    assert.equal(one.archive.length, gz.length);
    assert.equal(one.tar.sha256, sha256(gunzipSync(gz)));
    // gzip header: no name flag, mtime 0, fixed OS byte
    assert.deepEqual([...gz.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    assert.equal(one.entries, 17);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a folder with exec bits, long and unicode names, empty files and dirs, internal symlinks round-trips through unpack', async () => {
  const root = await tempDir();
  try {
    const app = await makeApp(root);
    await packFolder(app, join(root, 'app.tar.gz'));
    const staging = join(root, 'staging');
    const result = await unpackArchive(join(root, 'app.tar.gz'), staging);
    assert.equal(result.entries, 17);
    assert.equal(result.bytes, 300_000 + 4 + 7 + 7 + 18);
    const want = await snapshot(app);
    // the tar normalises modes: 0700 -> 0755, 0600 -> 0644
    assert.equal(want['Contents/MacOS/myapp']?.mode, 0o700);
    want['Contents/MacOS/myapp'].mode = 0o755;
    (want['Contents/Frameworks/Lib.framework/Versions/A/Lib'] as Node).mode = 0o644;
    assert.deepEqual(await snapshot(staging), want);
    assert.equal(await readFile(join(staging, 'Contents/Frameworks/Lib.framework/Lib'), 'utf8'), 'library');
    assert.deepEqual(await hashFolderAsTar(staging), await hashFolderAsTar(app));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('hashFolderAsTar equals the sha256 and length of the file packTar writes', async () => {
  const root = await tempDir();
  try {
    const app = await makeApp(root);
    const { tar, entries } = await packTar(app, join(root, 'app.tar'));
    const bytes = await readFile(join(root, 'app.tar'));
    assert.deepEqual(tar, { sha256: sha256(bytes), length: bytes.length });
    assert.deepEqual(await hashFolderAsTar(app), tar);
    assert.equal(entries, 17);
    assert.equal(bytes.length % 512, 0);
    // Without the flush to disk (the client's cached source tar): the same bytes.
    const unsynced = await packTar(app, join(root, 'unsynced.tar'), { sync: false });
    assert.deepEqual(unsynced.tar, tar);
    assert.deepEqual(await readFile(join(root, 'unsynced.tar')), bytes);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the tar format is stable: a fixed folder always hashes to the same pinned sha256', async () => {
  // If this fails, the tar layout changed: every client rebuilding the tar of its installed folder
  // would stop matching the signed digest. Change the format version and docs/archive-format.md.
  const root = await tempDir();
  try {
    const app = join(root, 'app');
    await mkdir(join(app, 'bin'), { recursive: true });
    await mkdir(join(app, 'd'.repeat(120)));
    await writeFile(join(app, 'bin', 'run'), 'run\n');
    await chmod(join(app, 'bin', 'run'), 0o755);
    await writeFile(join(app, 'd'.repeat(120), 'f'), 'long\n');
    await writeFile(join(app, '\u00e9.txt'), '');
    await symlink('bin/run', join(app, 'start'));
    const digest = await hashFolderAsTar(app);
    assert.deepEqual(digest, {
      sha256: '0ba2bfe24e2a50c6979a919650c9ba863c7df664fb8daa7ff9545a6c250c1f4c',
      length: 7168,
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('keepMtime keeps whole-second mtimes, and unpack restores them so the tar rebuilds identically', async () => {
  const root = await tempDir();
  try {
    const app = await makeApp(root);
    await utimes(join(app, 'big.bin'), 1_700_000_000.75, 1_700_000_000.75);
    const fixed = await hashFolderAsTar(app);
    const kept = await packFolder(app, join(root, 'app.tar.gz'), { keepMtime: true });
    assert.notEqual(kept.tar.sha256, fixed.sha256);
    await unpackArchive(join(root, 'app.tar.gz'), join(root, 'staging'));
    assert.equal((await lstat(join(root, 'staging', 'big.bin'))).mtimeMs, 1_700_000_000_000);
    assert.deepEqual(await hashFolderAsTar(join(root, 'staging'), { keepMtime: true }), kept.tar);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('hard-linked files are packed as two regular files', async () => {
  const root = await tempDir();
  try {
    const app = join(root, 'app');
    await mkdir(app);
    await writeFile(join(app, 'a'), 'shared');
    await link(join(app, 'a'), join(app, 'b'));
    await packFolder(app, join(root, 'app.tar.gz'));
    await unpackArchive(join(root, 'app.tar.gz'), join(root, 'staging'));
    assert.equal(await readFile(join(root, 'staging', 'b'), 'utf8'), 'shared');
    assert.equal((await lstat(join(root, 'staging', 'b'))).nlink, 1);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test(
  'system tar reads our tar to the same tree (the format is plain ustar + pax)',
  { skip: process.platform === 'win32' },
  async (t) => {
    const probe = spawnSync('tar', ['--version']);
    if (skipTestUnlessTool(t, probe.status === 0 ? undefined : 'no tar on PATH')) return;
    const root = await tempDir();
    try {
      const app = await makeApp(root);
      await packFolder(app, join(root, 'app.tar.gz'));
      await mkdir(join(root, 'by-tar'));
      const r = spawnSync('tar', ['-xzf', join(root, 'app.tar.gz'), '-C', join(root, 'by-tar')]);
      assert.equal(r.status, 0, r.stderr.toString());
      const ours = await snapshot(app);
      (ours['Contents/MacOS/myapp'] as Node).mode = 0o755;
      (ours['Contents/Frameworks/Lib.framework/Versions/A/Lib'] as Node).mode = 0o644;
      const theirs = await snapshot(join(root, 'by-tar'));
      // modes from system tar go through the umask; compare everything else
      for (const n of [...Object.values(ours), ...Object.values(theirs)]) delete n.mode;
      assert.deepEqual(theirs, ours);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  },
);

async function assertPackRefused(
  build: (app: string, root: string) => Promise<void>,
  code: string,
  message: RegExp,
  folder?: (app: string) => string,
): Promise<void> {
  const root = await tempDir();
  try {
    const app = join(root, 'app');
    await mkdir(app);
    await build(app, root);
    const out = join(root, 'out.tar.gz');
    await assert.rejects(
      packFolder(folder ? folder(app) : app, out, { tarPath: join(root, 'out.tar') }),
      (e: unknown) => {
        assert.ok(e instanceof UsageError, String(e));
        assert.equal(e.code, code, e.message);
        assert.match(e.message, message);
        return true;
      },
    );
    // no archive, no tar, no temp file left beside them
    assert.deepEqual((await readdir(root)).sort(), ['app']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

test(
  'pack refuses a socket, naming the path and the rule',
  { skip: process.platform === 'win32' },
  async () => {
    const servers: ReturnType<typeof createServer>[] = [];
    try {
      await assertPackRefused(
        async (app) => {
          const server = createServer();
          servers.push(server);
          await new Promise<void>((resolve) => server.listen(join(app, 'app.sock'), resolve));
        },
        'ARCHIVE_SPECIAL_FILE',
        /app\.sock.*a socket; only files, folders and relative symlinks/,
      );
    } finally {
      for (const s of servers) await new Promise((resolve) => s.close(resolve));
    }
  },
);

test('pack refuses a FIFO', { skip: process.platform === 'win32' }, async () => {
  await assertPackRefused(
    (app) => {
      const r = spawnSync('mkfifo', [join(app, 'pipe')]);
      assert.equal(r.status, 0, 'mkfifo must work on this machine');
      return Promise.resolve();
    },
    'ARCHIVE_SPECIAL_FILE',
    /pipe.*a FIFO/,
  );
});

test('pack refuses a symlink to an absolute path', async () => {
  await assertPackRefused(
    (app) => symlink('/etc/passwd', join(app, 'passwd')),
    'ARCHIVE_SYMLINK_ESCAPE',
    /passwd.*absolute path \(\/etc\/passwd\)/,
  );
});

test('pack refuses a relative symlink that leaves the folder', async () => {
  await assertPackRefused(
    async (app) => {
      await mkdir(join(app, 'sub'));
      await symlink('../../outside', join(app, 'sub', 'up'));
    },
    'ARCHIVE_SYMLINK_ESCAPE',
    /up.*leaves the folder/,
  );
});

test('pack refuses a symlink that escapes through another symlink (x -> ., y -> x/..)', async () => {
  await assertPackRefused(
    async (app) => {
      await symlink('.', join(app, 'x'));
      await symlink('x/..', join(app, 'y'));
    },
    'ARCHIVE_SYMLINK_ESCAPE',
    /app\/y".*leaves the folder/,
  );
});

test('pack refuses names that differ only in case (unpack on Windows/macOS could not keep them)', async () => {
  await assertPackRefused(
    async (app) => {
      await writeFile(join(app, 'README'), 'a');
      await writeFile(join(app, 'readme'), 'b');
    },
    'ARCHIVE_CASE_COLLISION',
    /only in case/,
  );
});

test('pack refuses a missing folder with a message that says what to give', async () => {
  await assertPackRefused(
    async () => {},
    'FOLDER_NOT_FOUND',
    /does not exist: give the folder/,
    (app) => join(app, 'nope'),
  );
});

test('pack refuses a file instead of a folder', async () => {
  await assertPackRefused(
    (app) => writeFile(join(app, 'app.exe'), 'x'),
    'NOT_A_FOLDER',
    /is a file, not a folder/,
    (app) => join(app, 'app.exe'),
  );
});

test('gunzipTo writes the tar atomically and checks it against the expected digest', async () => {
  const root = await tempDir();
  try {
    const app = await makeApp(root);
    const packed = await packFolder(app, join(root, 'app.tar.gz'));
    assert.deepEqual(await gunzipTo(join(root, 'app.tar.gz'), join(root, 'app.tar'), packed.tar), packed.tar);
    assert.equal(sha256(await readFile(join(root, 'app.tar'))), packed.tar.sha256);

    const wrong = { sha256: '0'.repeat(64), length: packed.tar.length };
    await assert.rejects(gunzipTo(join(root, 'app.tar.gz'), join(root, 'bad.tar'), wrong), {
      name: 'DataError',
      code: 'TAR_DIGEST_MISMATCH',
    });
    const short = { sha256: packed.tar.sha256, length: 1000 };
    await assert.rejects(
      gunzipTo(join(root, 'app.tar.gz'), join(root, 'bad.tar'), short),
      /more than the 1000 bytes/,
    );
    await writeFile(join(root, 'junk.tar.gz'), Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    await assert.rejects(gunzipTo(join(root, 'junk.tar.gz'), join(root, 'bad.tar')), {
      name: 'DataError',
      code: 'ARCHIVE_CORRUPT',
    });
    assert.deepEqual((await readdir(root)).sort(), ['MyApp.app', 'app.tar', 'app.tar.gz', 'junk.tar.gz']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('an aborted pack leaves no archive and no temp file', async () => {
  const root = await tempDir();
  try {
    const app = await makeApp(root);
    // The temp file's open raced the clean-up (about 1 run in 100 left one): repeat until it would show.
    for (let i = 0; i < 200; i++) {
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(packFolder(app, join(root, 'app.tar.gz'), { signal: controller.signal }), {
        name: 'AbortError',
      });
      assert.deepEqual(await readdir(root), ['MyApp.app'], `after abort ${i + 1}`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test(
  'pack refuses a name with a backslash (a separator on Windows)',
  { skip: process.platform === 'win32' },
  async () => {
    await assertPackRefused(
      (app) => writeFile(join(app, 'a\\..\\b'), 'x'),
      'ARCHIVE_BAD_PATH',
      /must not contain "\\"/,
    );
  },
);

test('pack refuses a name that is not valid UTF-8', { skip: process.platform !== 'linux' }, async () => {
  await assertPackRefused(
    (app) => writeFile(Buffer.concat([Buffer.from(`${app}/bad-`), Buffer.from([0xff, 0xfe])]), 'x'),
    'ARCHIVE_BAD_PATH',
    /not valid UTF-8/,
  );
});

test('pack refuses a file over the per-file size clients accept (a sparse 5 GiB file)', async () => {
  await assertPackRefused(
    async (app) => {
      const fh = await open(join(app, 'huge.bin'), 'w');
      await fh.truncate(5 * 1024 ** 3);
      await fh.close();
    },
    'FOLDER_TOO_LARGE',
    /huge\.bin.*over the 4294967296 bytes per file/,
  );
});

test('progress: pack reports tar bytes up to the exact final length, unpack reports the bytes it reads', async () => {
  const root = await tempDir();
  try {
    const app = await makeApp(root);
    const seen: [number, number][] = [];
    const packed = await packFolder(app, join(root, 'a.tar.gz'), { onProgress: (d, t) => seen.push([d, t]) });
    assert.ok(seen.length > 3);
    assert.ok(
      seen.every(([, t]) => t === packed.tar.length),
      'total is known from the start',
    );
    assert.deepEqual(seen.at(-1), [packed.tar.length, packed.tar.length]);
    assert.ok(seen.every(([d], i) => i === 0 || d > (seen[i - 1] as [number, number])[0]));
    let last: [number, number | undefined] = [0, 0];
    await unpackArchive(join(root, 'a.tar.gz'), join(root, 'staging'), {
      expectedTar: packed.tar,
      onProgress: (d, t) => (last = [d, t]),
    });
    assert.deepEqual(last, [packed.tar.length, packed.tar.length]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('an empty folder packs to the two end blocks and unpacks to an empty folder', async () => {
  const root = await tempDir();
  try {
    await mkdir(join(root, 'empty'));
    const packed = await packFolder(join(root, 'empty'), join(root, 'e.tar.gz'));
    assert.equal(packed.tar.length, 1024);
    assert.equal(packed.entries, 0);
    assert.deepEqual((await unpackArchive(join(root, 'e.tar.gz'), join(root, 'staging'))).entries, 0);
    assert.deepEqual(await readdir(join(root, 'staging')), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a file that grows or shrinks while it is packed is refused (FOLDER_CHANGED), no archive left', async () => {
  for (const change of ['grow', 'shrink'] as const) {
    const root = await tempDir();
    try {
      const app = join(root, 'app');
      await mkdir(app);
      const big = join(app, 'big.bin');
      await writeFile(big, Buffer.alloc(1024 * 1024, 1)); // over the read-ahead size: streamed
      let changed = false;
      const onProgress = (): void => {
        if (changed) return;
        changed = true; // after the header is produced, before the data is read
        if (change === 'grow') appendFileSync(big, 'more');
        else truncateSync(big, 1000);
      };
      await assert.rejects(packFolder(app, join(root, 'a.tar.gz'), { onProgress }), {
        name: 'UsageError',
        code: 'FOLDER_CHANGED',
      });
      assert.deepEqual(await readdir(root), ['app']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
});

test('node-tar (an independent reader) lists our archive with the same paths, types, modes, sizes and links', async () => {
  const root = await tempDir();
  try {
    const app = await makeApp(root);
    await packFolder(app, join(root, 'app.tar.gz'));
    const seen: string[] = [];
    await tarList({
      file: join(root, 'app.tar.gz'),
      strict: true,
      onReadEntry: (e) => {
        seen.push(
          `${e.type} ${e.path} ${(e.mode ?? 0).toString(8)} ${e.size} ${e.linkpath ?? ''} ${e.mtime?.toISOString()}`,
        );
      },
    });
    const T = '2000-01-01T00:00:00.000Z';
    const want = Object.entries(await snapshot(app))
      .sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
      .map(([p, n]) => {
        if (n.type === 'dir') return `Directory ${p}/ 755 0  ${T}`;
        if (n.type === 'symlink') return `SymbolicLink ${p} 777 0 ${n.target} ${T}`;
        return `File ${p} ${(n.mode ?? 0) & 0o111 ? '755' : '644'} ${n.size}  ${T}`;
      });
    assert.deepEqual(seen, want);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('many small files read through reused buffers give the same tar as without', async () => {
  const root = await tempDir();
  try {
    const app = join(root, 'app');
    await mkdir(join(app, 'lib'), { recursive: true });
    // More files than are read ahead at once, of sizes around the read-ahead limit (256 KiB), each
    // with its own bytes: a buffer handed to the next file too early would show in the tar.
    for (let k = 0; k < 40; k++) {
      const size = [0, 1, 511, 4096, 100_000, 262_144, 262_145, 300_000][k % 8] as number;
      const bytes = Buffer.alloc(size);
      for (let i = 0; i < size; i++) bytes[i] = (i * 7 + k * 13) & 255;
      await writeFile(join(app, 'lib', `f${String(k).padStart(2, '0')}.bin`), bytes);
    }
    const { tar } = await packFolder(app, join(root, 'app.tar.gz'), { tarPath: join(root, 'fresh.tar') });
    const reused = await packTar(app, join(root, 'reused.tar'));
    assert.deepEqual(reused.tar, tar);
    assert.deepEqual(await readFile(join(root, 'reused.tar')), await readFile(join(root, 'fresh.tar')));
    assert.deepEqual(await hashFolderAsTar(app), tar);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a small file that grows or shrinks while packTar reads it ahead is refused (FOLDER_CHANGED)', async () => {
  for (const change of ['grow', 'shrink'] as const) {
    const root = await tempDir();
    try {
      const app = join(root, 'app');
      await mkdir(app);
      const small = join(app, 'small.txt');
      await writeFile(small, 'x'.repeat(1000)); // under the read-ahead size: read into a reused buffer
      let changed = false;
      const onProgress = (): void => {
        if (changed) return;
        changed = true; // after the first header is produced, before the read-ahead's open returns
        if (change === 'grow') appendFileSync(small, 'more');
        else truncateSync(small, 10);
      };
      await assert.rejects(packTar(app, join(root, 'a.tar'), { onProgress }), {
        name: 'UsageError',
        code: 'FOLDER_CHANGED',
      });
      assert.deepEqual(await readdir(root), ['app']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
});
