/**
 * Output directories as `jitc run` leaves them, built from fake results without a target: the
 * evidence files, the reports written from them, one Allure result, sealed and moved into place by
 * the same code a run uses. For the tests of merge, verify and the output directory's rules.
 */
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeRunReports } from '../../reports/outputs/artifacts.ts';
import { sealRun } from '../../reports/ledger/ledger.ts';
import { digestFiles, renderManifest, type Manifest } from '../../reports/ledger/manifest.ts';
import { OutputDir } from '../../reports/outputs/out-dir.ts';
import { planDigest } from '../../reports/outputs/shards.ts';
import type { EvidenceEvent } from '../../scenarios/evidence.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { checkResult, fakeResult } from './fake-adapter.ts';

/** A scenario result with a short lifecycle of evidence, passing or failing its reuse check. */
export function sealedResult(id: string, verdict: 'pass' | 'fail', runId: string, adapter = 'vault'): ScenarioResult {
  const at = (ms: number): string => new Date(Date.parse('2026-01-01T00:00:00.000Z') + ms).toISOString();
  const evidence: EvidenceEvent[] = [
    { at: at(0), phase: 'request', event: 'grant requested', data: { taskId: `${runId}/${id}` } },
    { at: at(50), phase: 'reuse', event: `reuse attempt 1: ${verdict === 'pass' ? 'denied' : 'allowed'}` },
  ];
  const checks = [checkResult('reuse-denied', verdict, verdict === 'pass' ? 'denied after the end' : 'still allowed 8 s after the end')];
  return fakeResult({ id, adapter, runId, evidence, checks, task: { id: `${runId}/${id}`, approver: 'jitc-change-approval', windowSeconds: 3, needs: ['read'], endMode: 'revoke' } });
}

export interface SealedRunOptions {
  runId: string;
  /** This run is shard index/count of a plan of these scenarios (adapter/id). */
  shard?: { index: number; count: number; planned: string[] };
}

/** Writes and seals a run of `results` into `dir` as jitc does (staging, seal, move into place). */
export function sealedRun(dir: string, results: ScenarioResult[], options: SealedRunOptions): string {
  const out = OutputDir.claim(dir, { where: '--out', runId: options.runId, command: 'run', log: () => undefined });
  try {
    mkdirSync(join(out.staging, 'evidence'));
    mkdirSync(join(out.staging, 'allure-results'));
    for (const r of results) {
      writeFileSync(join(out.staging, 'evidence', `${r.adapter}.${r.id}.json`), JSON.stringify(r, null, 2));
      writeFileSync(join(out.staging, 'allure-results', `${options.runId}-${r.adapter}-${r.id}-result.json`), JSON.stringify({ name: r.id, status: r.verdict === 'pass' ? 'passed' : 'failed' }));
    }
    const shard = options.shard ? { ...options.shard, plan: planDigest(options.shard.planned) } : undefined;
    writeRunReports(out.staging, results, { runId: options.runId, startedAt: '2026-01-01T00:00:00.000Z', waivers: [], gate: [], doubtful: false, ...(shard ? { shard } : {}) });
    sealRun(out.staging);
    out.commit();
  } finally {
    out.abandon();
  }
  return dir;
}

/**
 * Recomputes the manifest's file digests over what the directory holds now, as someone without
 * the signing key can: an unsigned run edited this way verifies intact, so only what merge itself
 * checks stands between it and a merged report.
 */
export function reseal(dir: string): void {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const { digest: _d, ...body } = manifest;
  writeFileSync(join(dir, 'manifest.json'), renderManifest({ ...body, files: digestFiles(dir) }));
}
