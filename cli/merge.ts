/**
 * `jitc merge DIR... --out DIR`: combine the outputs of sharded runs (a CI matrix) into one report.
 * Every input is read and checked first (see reports/outputs/merge-sources.ts): a tampered source, two
 * results for one scenario, an incomplete set of shards or a malformed file is bad input, and
 * `--out` is left exactly as it was. Then the reports are computed from the sources' evidence
 * exactly as `jitc run` computes them, so totals, verdicts and the control view equal an unsharded
 * run, and the merged summary keeps each source's run id and chain head. A check a shard's target
 * could not evidence is read from that shard's evidence too, so every merged report keeps the gap.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readEvidence } from '../reports/outputs/artifacts.ts';
import { parseGateRule } from '../reports/gate.ts';
import { checkMergeSources, loadMergeSource, mergedSource } from '../reports/outputs/merge-sources.ts';
import { isWithin, OutputDir } from '../reports/outputs/out-dir.ts';
import { closingLine, renderTable } from '../reports/writers/terminal.ts';
import { loadWaivers } from '../reports/waivers.ts';
import { finishRun } from './finish.ts';
import { plannedHistory } from './history.ts';
import { metricsFile, outputDir } from './output-paths.ts';
import { DEFAULT_OUT } from './defaults.ts';
import { InputError } from '../scenarios/input.ts';

interface MergeFlags {
  out?: string;
  failOn?: string[];
  waivers?: string;
  html?: boolean;
  metrics?: string;
  signKey?: string;
  history?: string;
}

function copyInto(fromDir: string, rel: string, toDir: string, toRel = rel): void {
  mkdirSync(dirname(join(toDir, toRel)), { recursive: true });
  copyFileSync(join(fromDir, rel), join(toDir, toRel));
}

export async function mergeCommand(dirs: string[], flags: MergeFlags): Promise<number> {
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const outDir = outputDir(resolve(flags.out ?? DEFAULT_OUT), '--out');
  const dirsGiven = dirs.map((d) => resolve(d));
  for (const [i, dir] of dirsGiven.entries()) {
    if (dirsGiven.indexOf(dir) !== i) throw new InputError(`${dir}: given twice`);
    if (isWithin(outDir, dir) || isWithin(dir, outDir)) throw new InputError(`${dir}: --out ${outDir} must be apart from the directories merged (neither inside the other)`);
  }
  // Everything is read and checked before --out is touched.
  const sources = dirsGiven.map((dir) => loadMergeSource(dir));
  checkMergeSources(sources);
  const gate = (flags.failOn ?? []).map((r) => parseGateRule(r));
  const waivers = flags.waivers ? loadWaivers(flags.waivers) : [];
  const history = await plannedHistory(flags.history, undefined);
  const metrics = flags.metrics ? metricsFile(resolve(flags.metrics), '--metrics') : undefined;
  // The merged run is judged as a whole: shards that together tested nothing are no conformant run.
  if (sources.every((s) => s.results.length === 0)) throw new InputError(`nothing tested: the ${sources.length === 1 ? 'run merged holds' : `${sources.length} runs merged hold`} no scenario result`);

  const runIds = [...new Set(sources.map((s) => s.runId))];
  const runId = runIds.length === 1 ? runIds[0]! : `merged-${runIds.join('-')}`.slice(0, 64);
  const out = OutputDir.claim(outDir, { where: '--out', runId, command: 'merge', log });
  try {
    for (const s of sources) {
      for (const rel of s.allure) copyInto(s.dir, rel, out.staging);
      for (const { result, file } of s.results) copyInto(s.dir, file, out.staging, `evidence/${result.adapter}.${result.id}.json`);
    }
    const results = readEvidence(out.staging);
    // A scenario one source left out and another ran is run; one left out everywhere stays in sight.
    const ran = new Set(results.map((r) => `${r.adapter}/${r.id}`));
    const leftOut = new Map(sources.flatMap((s) => s.leftOut).filter((l) => !ran.has(`${l.adapter}/${l.id}`)).map((l) => [`${l.adapter}/${l.id}`, l] as const));
    const summary = await finishRun(
      out,
      results,
      {
        runId,
        startedAt: sources.map((s) => s.startedAt).sort()[0] ?? new Date().toISOString(),
        waivers,
        gate,
        doubtful: sources.some((s) => s.doubtful),
        shards: runIds,
        merged: sources.map(mergedSource),
        leftOut: [...leftOut.values()],
      },
      { outDir, ...(flags.html ? { html: { title: `jitc merged run ${runId}` } } : {}), signKey: flags.signKey, metricsFile: metrics, history, command: 'merge', log },
    );
    process.stdout.write(`\n${renderTable(summary)}\n\nmerged ${sources.length} runs into ${outDir}\n${closingLine(summary)}\n`);
    return summary.exitCode;
  } finally {
    out.abandon();
  }
}
