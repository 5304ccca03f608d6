/**
 * The inputs of `jitc merge`, read and checked before anything is written: each source directory
 * is verified as `jitc verify` does (a tampered one is refused, named), its summary and the evidence
 * files its manifest lists are parsed and checked for shape, and across the sources no scenario may
 * have two results (a later result must never hide an earlier failure) and every sharded run must
 * be complete. Only files a source's manifest lists are ever read; anything else there is foreign.
 */
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { worstOf } from '../../scenarios/verdict.ts';
import { isEvidencePath, verifyRun } from '../ledger/ledger.ts';
import type { Manifest } from '../ledger/manifest.ts';
import { checkShardSets } from './shards.ts';
import type { LeftOut, MergedSource, ShardRecord } from '../writers/summary.ts';
import { InputError } from '../../scenarios/input.ts';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const verdict = z.enum(['pass', 'fail', 'inconclusive', 'waived']);

const summaryShape = z.object({
  runId: z.string().min(1),
  startedAt: z.string(),
  doubtful: z.boolean(),
  shard: z.object({ index: z.number().int().min(1), count: z.number().int().min(1), planned: z.array(z.string()), plan: hex64 }).refine((s) => s.index <= s.count, 'index above count').optional(),
  leftOut: z.array(z.strictObject({ adapter: z.string().min(1), id: z.string().min(1), why: z.string().min(1) })).optional(),
});

/** The fields every report writer reads from an evidence file; the rest is carried as it is. */
const resultShape = z.looseObject({
  id: z.string().min(1),
  adapter: z.string().min(1),
  grant: z.looseObject({ adapter: z.string().min(1), source: z.string().min(1) }),
  runId: z.string().min(1),
  title: z.string(),
  verdict,
  checks: z.array(z.looseObject({ name: z.string(), verdict: z.enum(['pass', 'fail', 'inconclusive']), detail: z.string(), severity: z.string(), controls: z.array(z.string()) })).min(1),
  controls: z.array(z.string()),
  target: z.looseObject({ mode: z.string(), address: z.string() }),
  metrics: z.looseObject({ ttlSeconds: z.number().nullable(), revocationLatencyMs: z.number().nullable(), sessionOutlivedTtlMs: z.number(), privilegeWidth: z.number().nullable(), residue: z.number() }),
  /** A break-glass scenario's flag, on the result and on each of its evidence events; nothing else may stand there. */
  breakGlass: z.literal(true).optional(),
  evidence: z.array(z.looseObject({ at: z.string(), phase: z.string(), event: z.string(), breakGlass: z.literal(true).optional() })),
  teardown: z.looseObject({ removed: z.array(z.string()), errors: z.array(z.string()) }),
  waiver: z.looseObject({ id: z.string() }).optional(),
});

export interface MergeSource {
  dir: string;
  runId: string;
  startedAt: string;
  doubtful: boolean;
  shard: ShardRecord | undefined;
  /** What the source's run left out of its selection, and why. */
  leftOut: LeftOut[];
  manifest: Manifest;
  results: { result: ScenarioResult; file: string }[];
  /** allure-results/… paths the manifest lists. */
  allure: string[];
}

function issueText(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue?.path.join('.') || 'top level'}: ${issue?.message ?? 'unexpected shape'}`;
}

function readJson(dir: string, rel: string): unknown {
  const file = join(dir, rel);
  if (!lstatSync(file).isFile()) throw new InputError(`${file}: not a regular file`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InputError(`${file}: not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** A scenario's verdict must be what its own checks say (waived only over failed checks, with the waiver). */
function consistent(r: z.infer<typeof resultShape>): boolean {
  const worst = worstOf(r.checks.map((c) => c.verdict));
  return r.verdict === 'waived' ? worst === 'fail' && r.waiver !== undefined : r.verdict === worst;
}

/** One source directory, verified and parsed; throws InputError naming the directory and what is wrong. */
export function loadMergeSource(dir: string): MergeSource {
  const check = verifyRun(dir);
  if (check.problems.length > 0) {
    const first = check.problems[0]!;
    const more = check.problems.length > 1 ? ` (and ${check.problems.length - 1} more: jitc verify ${dir})` : '';
    throw new InputError(`${dir}: TAMPERED, not merged: ${first.subject}: ${first.problem}${more}`);
  }
  const manifest = check.manifest!;
  const listed = new Set(manifest.files.map((f) => f.path));
  if (!listed.has('summary.json')) throw new InputError(`${dir}: its manifest lists no summary.json (not the output of jitc run or merge)`);
  const summary = summaryShape.safeParse(readJson(dir, 'summary.json'));
  if (!summary.success) throw new InputError(`${join(dir, 'summary.json')}: ${issueText(summary.error)}`);
  const results = manifest.files
    .filter((f) => isEvidencePath(f.path))
    .map((f) => {
      const where = join(dir, f.path);
      const parsed = resultShape.safeParse(readJson(dir, f.path));
      if (!parsed.success) throw new InputError(`${where}: not a jitc evidence file: ${issueText(parsed.error)}`);
      const r = parsed.data;
      if (f.path !== `evidence/${r.adapter}.${r.id}.json`) throw new InputError(`${where}: holds the result of ${r.adapter}/${r.id}, not of the scenario its name says`);
      if (!consistent(r)) throw new InputError(`${where}: verdict "${r.verdict}" is not what its checks say (${worstOf(r.checks.map((c) => c.verdict))})`);
      return { result: r as unknown as ScenarioResult, file: f.path };
    });
  const s = summary.data;
  return {
    dir,
    runId: s.runId,
    startedAt: s.startedAt,
    doubtful: s.doubtful,
    shard: s.shard,
    leftOut: s.leftOut ?? [],
    manifest,
    results,
    allure: manifest.files.map((f) => f.path).filter((p) => p.startsWith('allure-results/')),
  };
}

/** Across sources: every sharded run complete and each shard once, no scenario twice, no Allure file twice. */
export function checkMergeSources(sources: readonly MergeSource[]): void {
  checkShardSets(
    sources.flatMap((s) => (s.shard ? [{ dir: s.dir, shard: s.shard, results: s.results.map(({ result }) => `${result.adapter}/${result.id}`) }] : [])),
  );
  const seen = new Map<string, { dir: string; target: string }>();
  for (const s of sources) {
    for (const { result } of s.results) {
      const key = `${result.adapter}/${result.id}`;
      const target = `${result.target.mode}${result.target.address ? ` ${result.target.address}` : ''}`;
      const other = seen.get(key);
      if (other) {
        throw new InputError(`${key}: two results (${other.dir} on ${other.target}, ${s.dir} on ${target}); a merge never lets one result hide another: merge the shards of one run, or runs of different scenarios`);
      }
      seen.set(key, { dir: s.dir, target });
    }
  }
  const allure = new Map<string, string>();
  for (const s of sources) {
    for (const path of s.allure) {
      const other = allure.get(path);
      if (other !== undefined) throw new InputError(`${path}: in both ${other} and ${s.dir} (the same run merged twice?)`);
      allure.set(path, s.dir);
    }
  }
}

/** What a merged report keeps of each source: enough to trace it back to its own seal. */
export function mergedSource(s: MergeSource): MergedSource {
  return {
    runId: s.runId,
    chainHead: s.manifest.eventLog.head,
    records: s.manifest.eventLog.records,
    sealedAt: s.manifest.sealedAt,
    ...(s.shard ? { shard: `${s.shard.index}/${s.shard.count}` } : {}),
  };
}
