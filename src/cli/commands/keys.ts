import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import {
  addKeyToRole,
  createKey,
  listKeys,
  parseRoleName,
  replaceKey,
  revokeKey,
  setThreshold,
  verifyRepository,
} from '../../repo/index.js';
import type { RepoConfig, RoleChangeResult } from '../../repo/index.js';
import type { Command, CommandContext } from '../command.js';
import { EXIT } from '../exit-codes.js';
import {
  SIGNING_HELP,
  SIGNING_OPTIONS,
  intOption,
  keyDirOf,
  newPassphrase,
  passphrasesOf,
  publisherConfig,
  reportMissingSignatures,
  stringOption,
} from './keys-shared.js';

function arg(ctx: CommandContext, i: number, what: string): string {
  const v = ctx.positionals[i];
  if (v === undefined) throw new UsageError('MISSING_ARGUMENT', `missing ${what}`);
  return v;
}

function noExtra(ctx: CommandContext, n: number): void {
  if (ctx.positionals.length > n)
    throw new UsageError('EXTRA_ARGUMENT', `unexpected argument "${ctx.positionals[n]}"`);
}

async function describe(
  ctx: CommandContext,
  config: RepoConfig,
  what: string,
  r: RoleChangeResult,
): Promise<number> {
  ctx.stdout.write(`${what}: root is now version ${r.rootVersion}\n`);
  for (const [role, spec] of Object.entries(r.roles)) {
    ctx.stdout.write(`  ${role.padEnd(9)} threshold ${spec.threshold} of ${spec.keyIDs.length} key(s)\n`);
  }
  await reportMissingSignatures(ctx, config);
  ctx.stdout.write('Run "notsotuf status" to check signatures, then "notsotuf publish".\n');
  return EXIT.ok;
}

const keysNew: Command = {
  path: ['keys', 'new'],
  summary: 'Make a new ed25519 key pair in the key folder',
  usage: 'NAME [--encrypt] [--keys DIR] [--config FILE]',
  options: { ...SIGNING_OPTIONS, encrypt: { type: 'boolean' } },
  optionHelp: {
    ...SIGNING_HELP,
    keys: 'folder to write the key to (default: the "keys" folder of notsotuf.json)',
    encrypt: 'encrypt the private key (passphrase: NOTSOTUF_PASSPHRASE[_<NAME>] or a prompt)',
  },
  async run(ctx) {
    const name = arg(ctx, 0, 'key NAME');
    noExtra(ctx, 1);
    let keyDir = stringOption(ctx, 'keys');
    keyDir = keyDir === undefined ? (await publisherConfig(ctx)).keys : resolve(ctx.cwd, keyDir);
    const encrypted = ctx.values.encrypt === true;
    const stored = await createKey(
      keyDir,
      name,
      encrypted ? { passphrase: await newPassphrase(ctx, name) } : {},
    );
    ctx.stdout.write(
      `Created key "${name}" (id ${stored.key.keyID}) in ${keyDir}${encrypted ? ', encrypted' : ''}\n` +
        `Give it a role with: notsotuf keys add ROLE ${name}\n`,
    );
    return EXIT.ok;
  },
};

const keysList: Command = {
  path: ['keys', 'list'],
  summary: 'List the keys in the key folder and the roles they sign',
  usage: '[--keys DIR] [--config FILE]',
  options: SIGNING_OPTIONS,
  optionHelp: SIGNING_HELP,
  async run(ctx) {
    noExtra(ctx, 0);
    const config = await publisherConfig(ctx);
    const keyDir = keyDirOf(ctx, config);
    const report = await verifyRepository(config.repository);
    const isDir = await stat(keyDir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir)
      throw new UsageError(
        'NO_KEY_FOLDER',
        `key folder ${keyDir} does not exist: check --keys or "keys" in notsotuf.json`,
      );
    const keys = await listKeys(keyDir);
    const rolesOf = (id: string): string[] =>
      report.roles.filter((r) => r.keyIDs.includes(id)).map((r) => r.role);
    if (keys.length === 0) ctx.stdout.write(`no keys in ${keyDir}\n`);
    for (const k of keys) {
      const roles = rolesOf(k.key.keyID);
      ctx.stdout.write(
        `${k.name.padEnd(16)} ${k.key.keyID.slice(0, 16)}  ${k.hasPrivate ? (k.encrypted ? 'private (encrypted)' : 'private') : 'public only'}  ${roles.length > 0 ? `signs ${roles.join(', ')}` : ''}\n`,
      );
    }
    return EXIT.ok;
  },
};

const keysAdd: Command = {
  path: ['keys', 'add'],
  summary: 'Let a key sign a role (new root version); --threshold sets how many keys must sign',
  usage: 'ROLE NAME [--threshold N] [--keys DIR] [--config FILE]',
  options: { ...SIGNING_OPTIONS, threshold: { type: 'string' } },
  optionHelp: { ...SIGNING_HELP, threshold: 'how many keys must sign ROLE from now on' },
  async run(ctx) {
    const role = parseRoleName(arg(ctx, 0, 'ROLE'));
    const name = arg(ctx, 1, 'key NAME');
    noExtra(ctx, 2);
    const config = await publisherConfig(ctx);
    const threshold = intOption(ctx, 'threshold');
    const r = await addKeyToRole(config, role, name, {
      keyDir: keyDirOf(ctx, config),
      passphrase: passphrasesOf(ctx),
      ...(threshold === undefined ? {} : { threshold }),
    });
    return describe(ctx, config, `Key "${name}" added to ${role}`, r);
  },
};

const keysReplace: Command = {
  path: ['keys', 'replace'],
  summary: 'Replace a key by another in its roles (root rotation: signed by old and new keys)',
  usage: 'OLD NEW [--role ROLE] [--keys DIR] [--config FILE]',
  options: { ...SIGNING_OPTIONS, role: { type: 'string' } },
  optionHelp: { ...SIGNING_HELP, role: 'only in this role (default: every role OLD signs)' },
  async run(ctx) {
    const oldName = arg(ctx, 0, 'OLD key name');
    const newName = arg(ctx, 1, 'NEW key name');
    noExtra(ctx, 2);
    const config = await publisherConfig(ctx);
    const role = stringOption(ctx, 'role');
    const r = await replaceKey(config, oldName, newName, {
      keyDir: keyDirOf(ctx, config),
      passphrase: passphrasesOf(ctx),
      ...(role === undefined ? {} : { role: parseRoleName(role) }),
    });
    return describe(ctx, config, `Key "${oldName}" replaced by "${newName}"`, r);
  },
};

const keysRevoke: Command = {
  path: ['keys', 'revoke'],
  summary: 'Remove a key from its roles (new root version)',
  usage: 'NAME|KEYID [--role ROLE] [--threshold N] [--keys DIR] [--config FILE]',
  options: { ...SIGNING_OPTIONS, role: { type: 'string' }, threshold: { type: 'string' } },
  optionHelp: {
    ...SIGNING_HELP,
    role: 'only from this role (default: every role it signs)',
    threshold: 'the new threshold of that role',
  },
  async run(ctx) {
    const name = arg(ctx, 0, 'key NAME or key id');
    noExtra(ctx, 1);
    const config = await publisherConfig(ctx);
    const role = stringOption(ctx, 'role');
    const threshold = intOption(ctx, 'threshold');
    const r = await revokeKey(config, name, {
      keyDir: keyDirOf(ctx, config),
      passphrase: passphrasesOf(ctx),
      ...(role === undefined ? {} : { role: parseRoleName(role) }),
      ...(threshold === undefined ? {} : { threshold }),
    });
    return describe(ctx, config, `Key "${name}" revoked`, r);
  },
};

const keysThreshold: Command = {
  path: ['keys', 'threshold'],
  summary: 'Set how many keys must sign a role (new root version)',
  usage: 'ROLE N [--keys DIR] [--config FILE]',
  options: SIGNING_OPTIONS,
  optionHelp: SIGNING_HELP,
  async run(ctx) {
    const role = parseRoleName(arg(ctx, 0, 'ROLE'));
    const n = arg(ctx, 1, 'threshold N');
    noExtra(ctx, 2);
    if (!/^\d+$/.test(n))
      throw new UsageError('INVALID_THRESHOLD', `threshold must be a whole number, got "${n}"`);
    const config = await publisherConfig(ctx);
    const r = await setThreshold(config, role, Number(n), {
      keyDir: keyDirOf(ctx, config),
      passphrase: passphrasesOf(ctx),
    });
    return describe(ctx, config, `Threshold of ${role} set to ${n}`, r);
  },
};

export const keysCommands: readonly Command[] = [
  keysAdd,
  keysList,
  keysNew,
  keysReplace,
  keysRevoke,
  keysThreshold,
];
