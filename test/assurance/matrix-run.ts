/**
 * Running the assurance matrix: every setup of an adapter — its conformant built-in scenarios,
 * their broken twins, and the further broken setups under test/mutants/ — against the adapter's
 * real local target, all at once (their waits overlap), then judging each result against what the
 * setup must produce. Shared by the mutants test and the script that writes docs/assurance.md, so
 * both reach a verdict the same way.
 */
import { setMaxListeners } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import pLimit from 'p-limit';
import { expect } from 'vitest';
import { join } from 'node:path';
import type { CleanupReport } from '../../adapters/contract.ts';
import { adapterNames } from '../../adapters/registry.ts';
import { loadWaivers, type Waiver } from '../../reports/waivers.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { BUILTIN_DIR, loadBuiltinScenarios } from '../../scenarios/load.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import type { Verdict } from '../../scenarios/verdict.ts';
import { testRunId } from '../support/run-id.ts';
import { loadVariants } from '../support/twins.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { startScenarioTargets } from '../support/scenario-targets.ts';
import { HTTP_BROKER_CASES, httpBrokerScenario, startHttpBrokerCase } from '../support/http-broker-cases.ts';
import type { BoundTarget } from '../../scenarios/engine.ts';

// Every adapter in the registry with scenarios of its own (a broker has none: its scenarios run in
// the suites of their points of use): a new adapter joins the matrix without a list to edit.
export const ADAPTERS: readonly string[] = adapterNames().filter((name) => existsSync(join(BUILTIN_DIR, name)));

/** The local targets' documented gaps: the waivers shipped for them, the project's one statement of those gaps. */
export const LOCAL_GAPS_FILE = join(PROJECT_ROOT, 'waivers', 'local.yaml');

export type SetupKind = 'conformant' | 'twin' | 'mutant';

export interface KnownGap {
  waiver: string;
  /** The checks the local target is known to fail for this scenario. */
  checks: string[];
  justification: string;
}

/** One row of the matrix before it ran: a scenario and what it must come out as. */
export interface MatrixSetup {
  kind: SetupKind;
  adapter: string;
  scenario: Scenario;
  /** The built-in scenario it is (conformant) or breaks (twin, mutant). */
  of: string;
  /** The broken setup in words; undefined for a conformant one. */
  broken?: string;
  /** Checks that must fail (twin, mutant); empty for a conformant setup. */
  mustFail: string[];
  /** A conformant setup the local target is documented to fail. */
  knownGap?: KnownGap;
  /** What a broken broker keeps on the target, swept apart from the harness's own leftovers. */
  keeps?: string;
  /**
   * Something the setup needs running beside the targets (a reference HTTP broker), started once
   * they are up; its scenario replaces {@link scenario}, which only names the setup until then.
   */
  prepare?: (targets: Readonly<Record<string, BoundTarget>>) => Promise<{ scenario: Scenario; stop(): Promise<void> }>;
}

/**
 * - `caught`: a broken setup reported `fail` on every check it names;
 * - `missed`: a broken setup that did not — a defect of the harness;
 * - `pass`: a conformant setup that passed;
 * - `known-gap`: a conformant setup failing only the checks its documented local gap names;
 * - `unexpected`: a conformant setup with any other verdict.
 */
export type Outcome = 'caught' | 'missed' | 'pass' | 'known-gap' | 'unexpected';

export interface MatrixRow extends Omit<MatrixSetup, 'scenario'> {
  id: string;
  verdict: Verdict;
  failedChecks: string[];
  inconclusiveChecks: string[];
  outcome: Outcome;
  /** Why the outcome is what it is, in one line (the missing checks of a missed mutant…). */
  note: string;
  durationMs: number;
}

export interface AdapterRun {
  adapter: string;
  runId: string;
  /** What the target says about itself: product, version, mode. */
  facts: Record<string, string>;
  rows: MatrixRow[];
  results: ScenarioResult[];
  /** Every secret value the run knew, to prove none reached a result. */
  secrets: SecretRegistry;
  /** What a sweep by the run id still found after every teardown: must be nothing. */
  leftovers: CleanupReport;
  /** What the sweep of the broken brokers' own run id found: what they kept, removed by jitc cleanup. */
  keptByBrokers: CleanupReport;
  wallMs: number;
}

function localGaps(adapter: string): Map<string, KnownGap> {
  const gaps = new Map<string, KnownGap>();
  const applies = (w: Waiver): boolean => w.adapter === adapter && (w.target === 'local' || w.target === 'any');
  for (const w of loadWaivers(LOCAL_GAPS_FILE).filter(applies)) {
    gaps.set(w.scenario, { waiver: w.id, checks: w.checks ?? [], justification: w.justification.replace(/\s+/g, ' ').trim() });
  }
  return gaps;
}

/** The setups of one adapter, of the kinds asked for, in the order the matrix lists them. */
export async function loadSetups(adapter: string, kinds: readonly SetupKind[]): Promise<MatrixSetup[]> {
  const setups: MatrixSetup[] = [];
  if (kinds.includes('conformant')) {
    const gaps = localGaps(adapter);
    for (const scenario of await loadBuiltinScenarios([adapter])) {
      const gap = gaps.get(scenario.id);
      setups.push({ kind: 'conformant', adapter, scenario, of: scenario.id, mustFail: [], ...(gap ? { knownGap: gap } : {}) });
    }
  }
  for (const kind of ['twin', 'mutant'] as const) {
    if (!kinds.includes(kind)) continue;
    for (const v of await loadVariants(adapter, kind === 'twin' ? 'twins' : 'mutants')) {
      setups.push({ kind, adapter, scenario: v.scenario, of: v.of, broken: v.broken, mustFail: v.failedChecks, ...(v.keeps ? { keeps: v.keeps } : {}) });
    }
  }
  return setups;
}

const checksWith = (result: ScenarioResult, verdict: string): string[] => result.checks.filter((c) => c.verdict === verdict).map((c) => c.name);

/** What a result means for its setup. */
export function judgeRow(setup: MatrixSetup, result: ScenarioResult): MatrixRow {
  const failedChecks = [...new Set(checksWith(result, 'fail'))];
  const inconclusiveChecks = [...new Set(checksWith(result, 'inconclusive'))];
  const { scenario: _scenario, ...rest } = setup;
  const row = (outcome: Outcome, note: string): MatrixRow => ({
    ...rest,
    id: result.id,
    verdict: result.verdict,
    failedChecks,
    inconclusiveChecks,
    outcome,
    note,
    durationMs: Date.parse(result.finishedAt) - Date.parse(result.startedAt),
  });
  if (setup.kind !== 'conformant') {
    const missing = setup.mustFail.filter((c) => !failedChecks.includes(c));
    if (result.verdict === 'fail' && missing.length === 0) return row('caught', `fails ${setup.mustFail.join(', ')} as it must`);
    return row('missed', `verdict ${result.verdict}; ${missing.length > 0 ? `not failed: ${missing.join(', ')}` : 'every named check failed, yet the verdict is not fail'}`);
  }
  if (result.verdict === 'pass') return row('pass', 'passes');
  const gap = setup.knownGap;
  if (gap && result.verdict === 'fail' && failedChecks.every((c) => gap.checks.includes(c))) {
    return row('known-gap', `known gap of the local target (${gap.waiver}): ${gap.justification}`);
  }
  return row('unexpected', `a conformant setup reported ${result.verdict}: failed ${failedChecks.join(', ') || 'none'}, inconclusive ${inconclusiveChecks.join(', ') || 'none'}`);
}

/**
 * Start the adapter's real local target (and that of any other half its setups name: a broker),
 * run every setup concurrently, judge each, sweep by the run id for anything the harness left, and
 * stop the targets — always.
 */
export async function runOnLocalTarget(adapterName: string, setups: readonly MatrixSetup[]): Promise<AdapterRun> {
  const runId = testRunId();
  // A broken broker's kept grant carries the run id it was given: a run id of its own keeps the harness's sweep honest.
  const brokersRunId = testRunId();
  const started = Date.now();
  const up = await startScenarioTargets(adapterName, setups.map((s) => s.scenario), runId);
  try {
    const secrets = new SecretRegistry();
    const signal = new AbortController().signal;
    setMaxListeners(0, signal);
    const prepared = await Promise.all(setups.map((setup) => setup.prepare?.(up.targets)));
    const results = await Promise.all(
      setups.map((setup, i) => runScenario(prepared[i]?.scenario ?? setup.scenario, { runId: setup.keeps ? brokersRunId : runId, targets: up.targets, signal, secrets })),
    ).finally(() => Promise.allSettled(prepared.map((p) => p?.stop())));
    const rows = setups.map((setup, i) => judgeRow(setup, results[i]!));
    const leftovers = await up.own.adapter.cleanup(up.own.client, runId);
    const keptByBrokers = await up.own.adapter.cleanup(up.own.client, brokersRunId);
    return { adapter: adapterName, runId, facts: up.own.connection.facts, rows, results, secrets, leftovers, keptByBrokers, wallMs: Date.now() - started };
  } finally {
    await up.stop();
  }
}

/**
 * The reference HTTP broker (examples/brokers/http): its example scenario conformant, and once per
 * defect as a mutant, each with a broker of its own started beside the Vault target.
 */
async function httpBrokerSetups(kinds: readonly SetupKind[]): Promise<MatrixSetup[]> {
  const setups: MatrixSetup[] = [];
  for (const c of HTTP_BROKER_CASES) {
    const kind: SetupKind = c.defect ? 'mutant' : 'conformant';
    if (!kinds.includes(kind)) continue;
    const prepare: MatrixSetup['prepare'] = (targets) => {
      const vault = targets.vault?.connection ?? expect.unreachable('the HTTP broker grants on a Vault target');
      return startHttpBrokerCase(c, { address: vault.address, token: vault.settings.token ?? '' });
    };
    setups.push({
      kind,
      adapter: 'vault',
      scenario: await httpBrokerScenario(c, 'http://127.0.0.1:1/'),
      of: 'examples/brokers/http',
      mustFail: c.mustFail,
      prepare,
      ...(c.defect ? { broken: `the reference HTTP broker started with the defect ${c.defect}` } : {}),
      ...(c.defect === 'forgets-to-end' || c.defect === 'says-revoked' ? { keeps: 'the token the broker never revoked, swept by the run id' } : {}),
    });
  }
  return setups;
}

/**
 * How many adapters' matrices run at once. Each runs all its setups concurrently on its own
 * target (forty-odd on Vault), so its waits overlap already; a second adapter beside it on a
 * two-core machine lags the harness past 3-second grants, and a lagging harness proves nothing
 * (its verdicts turn inconclusive).
 */
export const ADAPTERS_AT_ONCE = 1;

/** Every adapter's setups on its own local target, a bounded number of adapters at a time; one that fails does not stop the others. */
export function runAdapters(adapters: readonly string[], setupsOf: (adapter: string) => readonly MatrixSetup[]): Promise<PromiseSettledResult<AdapterRun>[]> {
  const limit = pLimit(ADAPTERS_AT_ONCE);
  return Promise.allSettled(adapters.map((a) => limit(() => runOnLocalTarget(a, setupsOf(a)))));
}

export async function runMatrix(kinds: readonly SetupKind[], adapters: readonly string[] = ADAPTERS): Promise<AdapterRun[]> {
  const loaded = await Promise.all(adapters.map(async (a) => [...(await loadSetups(a, kinds)), ...(a === 'vault' ? await httpBrokerSetups(kinds) : [])]));
  // The reference HTTP broker takes its bearer token from the variable its example scenario names.
  process.env.JITC_BROKER_TOKEN ??= randomBytes(24).toString('base64url');
  const settled = await runAdapters(adapters, (a) => loaded[adapters.indexOf(a)]!);
  return settled.map((s) => {
    if (s.status === 'rejected') throw s.reason;
    return s.value;
  });
}

/** Secret values of a run that appear anywhere in its results: must be none. */
export function leakedSecrets(run: AdapterRun): number {
  const text = JSON.stringify(run.results);
  return run.secrets.values().filter((value) => text.includes(value)).length;
}
