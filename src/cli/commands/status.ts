import { verifyRepository } from '../../repo/index.js';
import { noExtraArguments } from '../arguments.js';
import type { Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { CONFIG_HELP, formatSize, intOption, publisherConfig } from './keys-shared.js';

export const statusCommand: Command = {
  path: ['status'],
  summary:
    'Verify the repository against its own root, list releases, warn about expiry (non-zero on any problem)',
  usage: '[--warn-days N] [--lengths-only] [--json] [--config FILE]',
  options: {
    config: { type: 'string' },
    'warn-days': { type: 'string' },
    'lengths-only': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  optionHelp: {
    ...CONFIG_HELP,
    'warn-days': 'warn when root or targets expire within N days (default 30)',
    'lengths-only': 'check target files by size only (quick; no hashes)',
    json: 'print the full report as JSON',
  },
  async run(ctx) {
    noExtraArguments(ctx);
    const config = await publisherConfig(ctx);
    const warnDays = intOption(ctx, 'warn-days');
    const lengthsOnly = ctx.values['lengths-only'] === true;
    const report = await verifyRepository(config.repository, {
      lengthsOnly,
      ...(warnDays === undefined ? {} : { warnDays }),
    });
    if (ctx.values.json === true) {
      ctx.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return report.ok ? EXIT.ok : EXIT.failure;
    }
    ctx.stdout.write(`Repository ${config.repository}\n\nRoles:\n`);
    for (const r of report.roles) {
      const sig = `${r.validSignatures}/${r.threshold} signatures${r.missing > 0 ? ` (${r.missing} missing)` : ''}`;
      ctx.stdout.write(
        `  ${r.role.padEnd(9)} v${String(r.version).padEnd(4)} expires ${r.expires}  ${sig}\n`,
      );
    }
    ctx.stdout.write(`\nReleases (${report.releases.length}):\n`);
    for (const r of report.releases) {
      ctx.stdout.write(
        `  ${r.app} ${r.version}  archive ${formatSize(r.archiveLength)}${r.patch === undefined ? '' : `, patch ${formatSize(r.patch.length)}`}\n`,
      );
    }
    ctx.stdout.write(
      `\n${report.targetsChecked} target file(s) checked${lengthsOnly ? ' (lengths only, not hashes)' : ''}\n`,
    );
    for (const w of report.warnings) ctx.stdout.write(`warning: ${w}\n`);
    for (const p of report.problems) ctx.stderr.write(`problem: ${p.message}\n`);
    ctx.stdout.write(
      report.ok
        ? 'OK: the repository verifies\n'
        : `FAILED: ${report.problems.length} problem(s); clients would refuse this repository\n`,
    );
    return report.ok ? EXIT.ok : EXIT.failure;
  },
};
