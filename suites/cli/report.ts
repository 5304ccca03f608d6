/**
 * `jitc report`: the HTML report from a run's allure-results, built offline. A sealed run is
 * verified first — rebuilding the report of a tampered run would launder it — and sealed again
 * afterwards, so `jitc verify` keeps passing (signed again when --sign-key is given).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildHtmlReport } from '../../reports/html.ts';
import { MANIFEST } from '../../reports/manifest.ts';
import { sealRun, verifyRun } from '../../reports/ledger.ts';
import { DEFAULT_OUT } from './run.ts';

export async function reportCommand(opts: { out?: string; key?: string; signKey?: string }): Promise<number> {
  const outDir = resolve(opts.out ?? DEFAULT_OUT);
  const sealed = existsSync(join(outDir, MANIFEST));
  if (sealed) {
    const check = verifyRun(outDir, { key: opts.key });
    if (check.problems.length > 0) {
      for (const p of check.problems) process.stdout.write(`${p.subject}: ${p.problem}\n`);
      process.stdout.write(`${outDir}: the run's outputs were changed after it was sealed; no report rebuilt\n`);
      return 1;
    }
  }
  const index = await buildHtmlReport(outDir, 'jitc');
  if (sealed) process.stderr.write(`${sealRun(outDir, { signKey: opts.signKey })}\n`);
  process.stdout.write(`${index}\n`);
  return 0;
}
