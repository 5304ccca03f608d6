/**
 * A scenario's cost to its target does not grow with what else lives there: the requests
 * `token-revoke-at-task-end` makes to a real OpenBao, counted by an HTTP proxy in front of it, are
 * the same on an empty target and on one holding thousands of unrelated tokens. Residue is read
 * from the grant's lineage (adapters/vault/audit-trail.ts), never by listing every token.
 */
import { setMaxListeners } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StartedTarget } from '../../adapters/contract.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { targetsOf } from '../support/bound.ts';
import { CountingHttpProxy } from '../support/counting-http-proxy.ts';
import { testRunId } from '../support/run-id.ts';
import { preloadUnrelatedTokens } from '../support/unrelated-tokens.ts';

const UNRELATED = 2000;
/**
 * How far the two counts may differ, per kind of timed request. Two kinds are timed rather than
 * counted: the reuse poll reads the secret and looks the accessor up until a denial has held
 * through the confirmation window, with backoff by the clock, and residue is read again (a lookup
 * per known token) until it is empty. Their number follows latency, not the target's size;
 * everything else must match exactly.
 */
const TIMED_SLACK = 2;

const isProbe = (call: string): boolean => /^GET \/v1\/secret\/data\/jitc\//.test(call);
/** The accessor's own poll after the end (credential-invalidated), and residue's lookups, repeated until settled. */
const isLookup = (call: string): boolean => call === 'POST /v1/auth/token/lookup-accessor';

let target: StartedTarget;
let proxy: CountingHttpProxy | undefined;
const runs: { label: string; result: ScenarioResult; calls: string[]; ms: number }[] = [];

beforeAll(async () => {
  const adapter = await getAdapter('vault');
  const runId = testRunId();
  const local = adapter.targets.local;
  if (!local) throw new Error('the vault adapter has no local target');
  target = await local.start({ runId, workDir: mkdtempSync(join(tmpdir(), 'jitc-vault-scale-')), projectRoot: PROJECT_ROOT, config: {}, log: () => undefined });
  const counting = await new CountingHttpProxy(target.connection.address).start();
  proxy = counting;
  const connection = { ...target.connection, address: counting.url };
  const client = await adapter.connect(connection);
  const base = (await loadBuiltinScenarios(['vault'])).find((s) => s.id === 'token-revoke-at-task-end') ?? expect.unreachable('no token-revoke-at-task-end');
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  const once = async (label: string): Promise<void> => {
    const before = counting.calls.length;
    const started = performance.now();
    const result = await runScenario({ ...base, id: `${base.id}-${label}` }, { runId, targets: targetsOf({ adapter, client, connection }), signal });
    runs.push({ label, result, calls: counting.calls.slice(before), ms: performance.now() - started });
  };
  await once('empty');
  const preloadMs = await preloadUnrelatedTokens(target.connection, UNRELATED);
  console.log(`[vault-scale] ${UNRELATED} unrelated tokens created in ${(preloadMs / 1000).toFixed(1)} s`);
  await once('loaded');
}, 240_000);

afterAll(async () => {
  await proxy?.stop();
  await target?.stop();
});

describe(`a Vault scenario's requests do not grow with ${UNRELATED} unrelated tokens on its target`, () => {
  test('the scenario passes on both targets', () => {
    for (const run of runs) expect(run.result.verdict, `${run.label}: ${run.result.checks.map((c) => `${c.name}=${c.verdict} ${c.detail}`).join('\n')}`).toBe('pass');
  });

  test('it never lists the target\'s tokens', () => {
    for (const run of runs) expect(run.calls.filter((c) => c.includes('auth/token/accessors'))).toEqual([]);
  });

  test(`the counts are equal, but for the timed probes and lookups (±${TIMED_SLACK} each)`, () => {
    const [empty, loaded] = runs;
    if (!empty || !loaded) return expect.unreachable('both runs');
    const summary = runs.map((r) => `${r.label}: ${r.calls.length} requests (${r.calls.filter(isProbe).length} reads of the secret, ${r.calls.filter(isLookup).length} accessor lookups) in ${(r.ms / 1000).toFixed(2)} s`).join('; ');
    console.log(`[vault-scale] ${summary}`);
    const untimed = (calls: string[]): string[] => calls.filter((c) => !isProbe(c) && !isLookup(c)).map((c) => c.replace(/jitc-[^/]+/, 'jitc-…')).sort();
    // Everything but the polls: the same requests, exactly.
    expect(untimed(loaded.calls), summary).toEqual(untimed(empty.calls));
    expect(Math.abs(empty.calls.filter(isProbe).length - loaded.calls.filter(isProbe).length), summary).toBeLessThanOrEqual(TIMED_SLACK);
    expect(Math.abs(empty.calls.filter(isLookup).length - loaded.calls.filter(isLookup).length), summary).toBeLessThanOrEqual(TIMED_SLACK);
  });
});
