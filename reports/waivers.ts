/**
 * Waivers: an explicit, visible acceptance of a known gap. A waiver names the scenario (and
 * optionally the checks) it covers, the target mode, a justification, who accepted it and until
 * when. It turns a `fail` into `waived` only while valid and only when every failed check is
 * covered; inconclusive is never waived. Expired and unused waivers are reported, not ignored.
 */
import { z } from 'zod';
import { adaptersOf, type ScenarioResult, type WaiverRecord } from '../scenarios/result.ts';
import { worstOf } from '../scenarios/verdict.ts';
import { InputError, describeIssue, displayPath, readYaml } from '../scenarios/input.ts';

const waiverSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, dash, underscore'),
  adapter: z.string().min(1),
  scenario: z.string().min(1),
  /** Failed checks this waiver accepts; absent means any failed check of the scenario. */
  checks: z.array(z.string().min(1)).min(1).optional(),
  target: z.enum(['local', 'container', 'external', 'any']).default('any'),
  justification: z.string().min(10, 'say why the gap is accepted (10 characters at least)'),
  acceptedBy: z.string().min(2),
  expires: z.iso.date('expected a date as YYYY-MM-DD'),
});

const waiverFileSchema = z.strictObject({ waivers: z.array(waiverSchema) });

export type Waiver = z.infer<typeof waiverSchema>;

export interface WaiverReport {
  applied: { waiver: string; scenario: string }[];
  expired: { waiver: string; scenario: string; expired: string }[];
  unused: string[];
}

export function loadWaivers(file: string): Waiver[] {
  const parsed = waiverFileSchema.safeParse(readYaml(file));
  if (!parsed.success) throw new InputError(`${displayPath(file)}: ${describeIssue(parsed.error)}`);
  const ids = new Set<string>();
  for (const [i, w] of parsed.data.waivers.entries()) {
    if (ids.has(w.id)) throw new InputError(`${displayPath(file)}: waivers.${i}.id: "${w.id}" is used twice`);
    ids.add(w.id);
  }
  return parsed.data.waivers;
}

/** A waiver is in force through the whole of its expiry day (UTC). */
export function isExpired(waiver: Waiver, now: Date): boolean {
  return Date.parse(`${waiver.expires}T23:59:59.999Z`) < now.getTime();
}

function covers(waiver: Waiver, result: ScenarioResult): boolean {
  // A waiver names its scenario by either half's adapter: the suite's (point of use) or the grant's.
  if (!adaptersOf(result).includes(waiver.adapter) || waiver.scenario !== result.id) return false;
  if (waiver.target !== 'any' && waiver.target !== result.target.mode) return false;
  const failed = result.checks.filter((c) => c.verdict === 'fail').map((c) => c.name);
  return waiver.checks === undefined || failed.every((name) => waiver.checks!.includes(name));
}

/** Apply the first valid covering waiver to a failed scenario. Returns what happened. */
export function applyWaiver(result: ScenarioResult, waivers: readonly Waiver[], now: Date): { applied?: Waiver; expired?: Waiver } {
  if (result.verdict !== 'fail') return {};
  const matching = waivers.filter((w) => covers(w, result));
  const valid = matching.find((w) => !isExpired(w, now));
  if (valid) {
    const record: WaiverRecord = { id: valid.id, justification: valid.justification, acceptedBy: valid.acceptedBy, expires: valid.expires };
    // The waiver covers the failures only: an inconclusive check beside them stays inconclusive.
    result.verdict = worstOf(['waived', ...result.checks.filter((c) => c.verdict !== 'fail').map((c) => c.verdict)]);
    result.waiver = record;
    return { applied: valid };
  }
  const expired = matching.find((w) => isExpired(w, now));
  return expired ? { expired } : {};
}

/** Apply waivers over a whole run and say which were used, which had expired, and which covered nothing. */
export function applyWaivers(results: ScenarioResult[], waivers: readonly Waiver[], now = new Date()): WaiverReport {
  const report: WaiverReport = { applied: [], expired: [], unused: [] };
  const used = new Set<string>();
  for (const result of results) {
    // A result waived where it ran (a suite worker, a shard) keeps its waiver record.
    const outcome = result.waiver ? {} : applyWaiver(result, waivers, now);
    if (result.waiver) {
      used.add(result.waiver.id);
      report.applied.push({ waiver: result.waiver.id, scenario: `${result.adapter}/${result.id}` });
    }
    if (outcome.expired) {
      used.add(outcome.expired.id);
      report.expired.push({ waiver: outcome.expired.id, scenario: `${result.adapter}/${result.id}`, expired: outcome.expired.expires });
    }
  }
  // Unused only among the adapters this run covered: a waiver for a suite not run is not stale.
  const ran = new Set(results.flatMap((r) => adaptersOf(r)));
  report.unused = waivers.filter((w) => ran.has(w.adapter) && !used.has(w.id)).map((w) => w.id);
  return report;
}
