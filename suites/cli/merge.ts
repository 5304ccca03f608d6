/**
 * `jitc merge DIR... --out DIR`: combine the outputs of sharded runs (a CI matrix) into one report.
 * Evidence files and allure-results are gathered, and the reports are computed from the evidence
 * exactly as `jitc run` computes them, so totals, verdicts and the control view equal an unsharded run.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../../adapters/contract.ts';
import { evidenceDir, readEvidence, writeRunReports } from '../../reports/artifacts.ts';
import { parseGateRule } from '../../reports/gate.ts';
import { buildHtmlReport } from '../../reports/html.ts';
import { sealRun, SEALED_OUTPUTS } from '../../reports/ledger.ts';
import type { Summary } from '../../reports/summary.ts';
import { closingLine, renderTable } from '../../reports/terminal.ts';
import { loadWaivers } from '../../reports/waivers.ts';
import { plannedHistory, recordInHistory } from './history.ts';
import { outputDir, outputFile } from './output-paths.ts';
import { DEFAULT_OUT } from './run.ts';

interface MergeFlags {
  out?: string;
  failOn?: string[];
  waivers?: string;
  html?: boolean;
  metrics?: string;
  signKey?: string;
  history?: string;
}

function copyDir(from: string, to: string): void {
  if (!existsSync(from)) return;
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) copyFileSync(join(from, name), join(to, name));
}

export async function mergeCommand(dirs: string[], flags: MergeFlags): Promise<number> {
  const outDir = outputDir(resolve(flags.out ?? DEFAULT_OUT), '--out');
  const sources = dirs.map((d) => resolve(d));
  const summaries: Summary[] = [];
  for (const dir of sources) {
    const file = join(dir, 'summary.json');
    if (!existsSync(file)) throw new InputError(`${dir}: no summary.json (not the output of jitc run)`);
    if (dir === outDir) throw new InputError(`${dir}: --out must differ from the directories merged`);
    summaries.push(JSON.parse(readFileSync(file, 'utf8')) as Summary);
  }
  const gate = (flags.failOn ?? []).map((r) => parseGateRule(r));
  const waivers = flags.waivers ? loadWaivers(flags.waivers) : [];
  const history = await plannedHistory(flags.history, undefined);
  const metricsFile = flags.metrics ? outputFile(resolve(flags.metrics), '--metrics') : undefined;
  for (const entry of ['allure-results', 'evidence', 'html', 'junit.xml', 'summary.json', 'summary.md', ...SEALED_OUTPUTS]) rmSync(join(outDir, entry), { recursive: true, force: true });
  for (const dir of sources) {
    copyDir(join(dir, 'allure-results'), join(outDir, 'allure-results'));
    copyDir(evidenceDir(dir), evidenceDir(outDir));
  }
  const results = readEvidence(outDir);
  const runIds = [...new Set(summaries.map((s) => s.runId))];
  const summary = writeRunReports(outDir, results, {
    runId: runIds.length === 1 ? runIds[0]! : `merged-${runIds.join('-')}`.slice(0, 64),
    startedAt: summaries.map((s) => s.startedAt).sort()[0] ?? new Date().toISOString(),
    waivers,
    gate,
    doubtful: summaries.some((s) => s.doubtful),
    shards: runIds,
    ...(metricsFile ? { metricsFile } : {}),
  });
  if (flags.html) process.stderr.write(`HTML report: ${await buildHtmlReport(outDir, `jitc merged run ${summary.runId}`)}\n`);
  await recordInHistory(history, summary, results, 'merge', (line) => process.stderr.write(`${line}\n`));
  // Last, once every report is written: the seal covers them all.
  process.stderr.write(`${sealRun(outDir, { signKey: flags.signKey })}\n`);
  process.stdout.write(`\n${renderTable(summary)}\n\nmerged ${sources.length} runs into ${outDir}\n${closingLine(summary)}\n`);
  return summary.exitCode;
}
