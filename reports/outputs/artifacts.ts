/**
 * The files a run leaves for people and pipelines, all derived from the evidence files the suites
 * wrote: summary.json, junit.xml, summary.md and assessment-results.json (OSCAL). `jitc run` and
 * `jitc merge` both end here, so a merged report is computed exactly like an unsharded one. The
 * OpenMetrics file lives outside the output directory and is written once the outputs are in place.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { applyGate, describeRule, type GateRule } from '../gate.ts';
import { renderJunit } from '../writers/junit.ts';
import { renderMarkdown } from '../writers/markdown.ts';
import { writeAssessmentResults } from '../writers/oscal.ts';
import { buildSummary, type LeftOut, type MergedSource, type ShardRecord, type Summary } from '../writers/summary.ts';
import { applyWaivers, type Waiver } from '../waivers.ts';

export function evidenceDir(outDir: string): string {
  return join(outDir, 'evidence');
}

export function readEvidence(outDir: string): ScenarioResult[] {
  const dir = evidenceDir(outDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ScenarioResult);
}

export interface ReportOptions {
  runId: string;
  startedAt: string;
  waivers: readonly Waiver[];
  gate: GateRule[];
  /** The run could not be trusted as a whole (interrupted, a suite crashed): at least exit 2. */
  doubtful: boolean;
  shards?: string[];
  shard?: ShardRecord;
  merged?: MergedSource[];
  /** What the selection held and the run did not run, and why. */
  leftOut?: LeftOut[];
}

export function writeRunReports(outDir: string, results: ScenarioResult[], options: ReportOptions): Summary {
  const waiverReport = applyWaivers(results, options.waivers);
  const summary = buildSummary(options.runId, options.startedAt, results, waiverReport);
  const gate = applyGate(results, options.gate);
  summary.gate = { rules: options.gate.map(describeRule), gating: gate.gating, tolerated: gate.tolerated };
  summary.doubtful = options.doubtful;
  if (options.shards) summary.shards = options.shards;
  if (options.shard) summary.shard = options.shard;
  if (options.merged) summary.merged = options.merged;
  if (options.leftOut && options.leftOut.length > 0) summary.leftOut = options.leftOut;
  // A run that tested nothing is not conformant; only one shard of a sharded run may be empty.
  const nothingTested = results.length === 0 && !options.shard;
  summary.exitCode = options.doubtful || nothingTested ? (Math.max(gate.exitCode, 2) as 2) : gate.exitCode;
  writeFileSync(join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(outDir, 'junit.xml'), renderJunit(results, options.runId));
  writeFileSync(join(outDir, 'summary.md'), renderMarkdown(summary));
  writeAssessmentResults(outDir, results, summary);
  return summary;
}
