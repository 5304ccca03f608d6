/**
 * `jitc report`: the HTML report from a run's allure-results, built offline. The directory must
 * hold a sealed run, which is verified first — rebuilding the report of a tampered run would
 * launder it — under the directory's lock, so no other run changes it meanwhile. The report is
 * built beside the run (in its staging directory, from a copy of the sealed files), sealed again
 * (signed again when --sign-key is given) and moved into place like a run's outputs.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildHtmlReport } from '../reports/writers/html.ts';
import { sealRun, verifyRun } from '../reports/ledger/ledger.ts';
import { checkOutputDir, OutputDir } from '../reports/outputs/out-dir.ts';
import { DEFAULT_OUT } from './defaults.ts';

export async function reportCommand(opts: { out?: string; key?: string; signKey?: string }): Promise<number> {
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const outDir = resolve(opts.out ?? DEFAULT_OUT);
  checkOutputDir(outDir, '--out', true);
  const out = OutputDir.claim(outDir, { where: '--out', runId: 'report', command: 'report', log, mustHoldRun: true });
  try {
    const check = verifyRun(outDir, { key: opts.key });
    if (check.problems.length > 0) {
      for (const p of check.problems) process.stdout.write(`${p.subject}: ${p.problem}\n`);
      process.stdout.write(`${outDir}: the run's outputs were changed after it was sealed; no report rebuilt\n`);
      return 1;
    }
    out.carryForward('');
    rmSync(join(out.staging, 'html'), { recursive: true, force: true });
    await buildHtmlReport(out.staging, 'jitc');
    log(sealRun(out.staging, { signKey: opts.signKey }));
    out.commit();
    process.stdout.write(`${join(outDir, 'html', 'index.html')}\n`);
    return 0;
  } finally {
    out.abandon();
  }
}
