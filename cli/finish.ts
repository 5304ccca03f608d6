/**
 * How `jitc run` and `jitc merge` end, written once: the reports are computed from the evidence,
 * the Allure history of earlier runs is carried forward, the HTML report is built when asked, the
 * outputs are sealed and only then moved into place, and the run is recorded in the history.
 * A merged report is therefore finished exactly like an unsharded run.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ReportOptions, writeRunReports } from '../reports/outputs/artifacts.ts';
import type { OutputDir } from '../reports/outputs/out-dir.ts';
import { sealRun } from '../reports/ledger/ledger.ts';
import { buildHtmlReport } from '../reports/writers/html.ts';
import { writeOpenMetrics } from '../reports/writers/openmetrics.ts';
import type { Summary } from '../reports/writers/summary.ts';
import type { ScenarioResult } from '../scenarios/result.ts';
import { recordInHistory } from './history.ts';

export interface FinishOptions {
  /** Where the outputs end up, for the lines the user reads. */
  outDir: string;
  /** Build html/index.html, titled so. */
  html?: { title: string };
  signKey?: string | undefined;
  metricsFile?: string | undefined;
  history: string;
  command: 'run' | 'merge';
  log: (line: string) => void;
}

export async function finishRun(out: OutputDir, results: ScenarioResult[], report: ReportOptions, options: FinishOptions): Promise<Summary> {
  const summary = writeRunReports(out.staging, results, report);
  // The Allure history of earlier runs here is carried forward: trends survive the replacement.
  out.carryForward('history/');
  if (options.html) {
    // A run whose suites wrote no Allure result (a suite crashed) still gets its (empty) report.
    mkdirSync(join(out.staging, 'allure-results'), { recursive: true });
    await buildHtmlReport(out.staging, options.html.title);
    options.log(`HTML report: ${join(options.outDir, 'html', 'index.html')}`);
  }
  // Last, once every report is written: the seal covers them all; then the sealed outputs replace
  // the previous ones, and only outputs in place are recorded.
  options.log(sealRun(out.staging, { signKey: options.signKey }));
  out.commit();
  if (options.metricsFile) writeOpenMetrics(options.metricsFile, summary);
  await recordInHistory(options.history, summary, results, options.command, options.log);
  return summary;
}
