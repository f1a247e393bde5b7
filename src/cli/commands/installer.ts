import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../errors.js';
import { clientExeName, INSTALLER_PLATFORMS, writeInstaller } from '../../repo/index.js';
import type { InstallerPlatform } from '../../repo/index.js';
import { parseChannel } from '../../core/version.js';
import { noExtraArguments } from '../arguments.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { CONFIG_HELP, publisherConfig, stringOption } from './keys-shared.js';

/** The notsotuf package folder (where `npm run build:exe` writes dist/exe/), found from this module. */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'notsotuf') return dir;
    } catch {
      // not here: look further up
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export const installerCommand: Command = {
  path: ['installer'],
  summary: 'Write what a user downloads to install the app: client executable, root.json, update.json',
  usage:
    `--platform ${INSTALLER_PLATFORMS.join('|')} --base-url URL [--out DIR] [--app NAME] [--install-dir DIR] [--channel C] [--exe FILE] [--config FILE] [-- PROGRAM [ARGS...]]\n` +
    '  after --: the app\'s command line for update.json "command" (PROGRAM relative to the install folder), started by "update --restart"',
  options: {
    config: { type: 'string' },
    platform: { type: 'string' },
    'base-url': { type: 'string' },
    out: { type: 'string' },
    app: { type: 'string' },
    'install-dir': { type: 'string' },
    channel: { type: 'string' },
    exe: { type: 'string' },
  },
  passthrough: true,
  optionHelp: {
    ...CONFIG_HELP,
    platform: `the user's platform: ${INSTALLER_PLATFORMS.join(' or ')}`,
    'base-url':
      'where the published repository is served (metadata under URL/metadata, targets under URL/targets)',
    out: 'folder to write, new or empty (default <app>[-<platform>]-installer)',
    app: 'the app as published (default <app>-<platform> when it has releases, else the project app)',
    'install-dir': 'install folder written into update.json, relative to it (default "app")',
    channel: 'update channel written into update.json (default stable)',
    exe: 'the client executable to ship (default dist/exe/notsotuf-<platform> of this notsotuf, from npm run build:exe)',
  },
  async run(ctx) {
    noExtraArguments(ctx);
    const platform = stringOption(ctx, 'platform');
    if (platform === undefined) {
      throw new UsageError('MISSING_ARGUMENT', `--platform is required: ${INSTALLER_PLATFORMS.join(' or ')}`);
    }
    if (!(INSTALLER_PLATFORMS as readonly string[]).includes(platform)) {
      throw new UsageError(
        'UNKNOWN_PLATFORM',
        `unknown --platform "${platform}": use ${INSTALLER_PLATFORMS.join(' or ')} (the client executables that are built and tested)`,
      );
    }
    const p = platform as InstallerPlatform;
    const baseUrl = stringOption(ctx, 'base-url');
    if (baseUrl === undefined) {
      throw new UsageError(
        'MISSING_ARGUMENT',
        '--base-url is required: the URL your published repository is served at (e.g. https://updates.example.com/myapp; "notsotuf serve" prints http://127.0.0.1:8080)',
      );
    }
    const channel = stringOption(ctx, 'channel');
    if (channel !== undefined) parseChannel(channel);
    const config = await publisherConfig(ctx);
    const app = stringOption(ctx, 'app') ?? `${config.app}-${p}`;
    const appGiven = stringOption(ctx, 'app') !== undefined;
    let exe = stringOption(ctx, 'exe');
    if (exe === undefined) {
      const root = packageRoot();
      exe = join(root ?? ctx.cwd, 'dist', 'exe', clientExeName(p));
    } else {
      exe = resolve(ctx.cwd, exe);
    }
    const installDir = stringOption(ctx, 'install-dir') ?? 'app';
    const options = {
      repository: config.repository,
      platform: p,
      baseUrl,
      exe,
      installDir: isAbsolute(installDir) ? installDir : installDir.split('\\').join('/'),
      ...(channel === undefined ? {} : { channel }),
      ...(ctx.passthrough === undefined ? {} : { command: ctx.passthrough }),
    };
    const write = (appName: string) =>
      writeInstaller({
        ...options,
        app: appName,
        out: resolve(
          ctx.cwd,
          stringOption(ctx, 'out') ?? `${appName}${appName.endsWith(p) ? '' : `-${p}`}-installer`,
        ),
      });
    let result;
    try {
      result = await write(app);
    } catch (error) {
      // No --app: "<app>-<platform>" has no releases, so try the project's app name itself.
      if (appGiven || !(error instanceof UsageError) || error.code !== 'NO_RELEASE') throw error;
      result = await write(config.app);
    }
    ctx.stdout.write(
      `Wrote the ${p} installer of ${result.app} (newest release ${result.newestVersion}) to ${result.out}:\n` +
        result.files.map((f) => `  ${f}\n`).join('') +
        `root.json is the repository's root version ${result.rootVersion}.\n` +
        `Users run in that folder: ${p.startsWith('win-') ? '' : './'}${result.exeName} install --config update.json\n`,
    );
    return EXIT.ok;
  },
};
