/**
 * The lifecycle engine: setup → baseline → request → use → end → reuse → residue → teardown,
 * written once. Adapters fill the slots through their mechanisms; the engine alone turns what
 * they observe into check verdicts, so every target is judged by the same rules.
 */
import pRetry from 'p-retry';
import { mechanismOf, type Adapter, type EndMode, type GrantRecord, type Mechanism, type ProbeResult, type ScenarioContext, type TargetConnection } from '../adapters/contract.ts';
import { checkDefinition } from '../reports/catalogue.ts';
import { Evidence, type Phase } from './evidence.ts';
import { pollUntilDenied, type ReuseObservation } from './reuse-poll.ts';
import type { CheckResult, PhaseTiming, ScenarioMetrics, ScenarioResult } from './result.ts';
import type { Scenario } from './schema.ts';
import { SecretRegistry } from './secrets.ts';
import { type CheckVerdict, verdictWhenDenialExpected, verdictWhenUseExpected, worstOf } from './verdict.ts';
import { Interrupted, waitUntil, type WaitReporter } from './wait.ts';

/** Wraps each phase, so a reporter can show it as a step (Allure) without the engine knowing. */
export type PhaseWrapper = <T>(phase: Phase, body: () => Promise<T>) => Promise<T>;

export interface EngineOptions<C> {
  runId: string;
  adapter: Adapter<C>;
  client: C;
  connection: TargetConnection;
  signal: AbortSignal;
  /** Secrets known before the scenario (target credentials); the scenario adds its own. */
  secrets?: SecretRegistry;
  phase?: PhaseWrapper;
  onWait?: WaitReporter;
}

/** Rounding allowance when comparing a granted TTL with the approval window. */
const TTL_ROUNDING_SECONDS = 1;

export async function runScenario<C>(scenario: Scenario, options: EngineOptions<C>): Promise<ScenarioResult> {
  const { adapter, signal } = options;
  const mechanism = mechanismOf(adapter, scenario.mechanism);
  if (!mechanism) throw new Error(`adapter ${adapter.name} has no mechanism ${scenario.mechanism}`);

  const secrets = options.secrets ?? new SecretRegistry();
  for (const key of options.connection.secretSettings) {
    const value = options.connection.settings[key];
    if (value) secrets.add(value);
  }
  const evidence = new Evidence(secrets);
  const checks: CheckResult[] = [];
  const phases: PhaseTiming[] = [];
  const startedAt = new Date().toISOString();
  const metrics: ScenarioMetrics = {
    ttlSeconds: null,
    ttlRequestedSeconds: null,
    revocationLatencyMs: null,
    sessionOutlivedTtlMs: 0,
    privilegeWidth: null,
    residue: 0,
  };

  const addCheck = (name: string, verdict: CheckVerdict, detail: string): void => {
    const def = checkDefinition(name);
    checks.push({ name, title: def.title, verdict, detail: secrets.redact(detail), severity: def.severity, controls: def.controls });
  };

  const ctx: ScenarioContext<unknown, C> = {
    runId: options.runId,
    scenarioId: scenario.id,
    prefix: `jitc-${options.runId}-${scenario.id}`,
    params: scenario.params,
    client: options.client,
    connection: options.connection,
    task: {
      windowSeconds: scenario.task.windowSeconds,
      approver: scenario.task.approver,
      needs: scenario.task.needs,
      id: `${options.runId}/${scenario.id}`,
    },
    evidence,
    secrets,
    state: new Map(),
    report: (finding) => addCheck(finding.check, finding.verdict, finding.detail),
    signal,
  };

  const wrap: PhaseWrapper = options.phase ?? ((_phase, body) => body());
  const runPhase = async <T>(phase: Phase, body: () => Promise<T>): Promise<T> => {
    // After an interrupt no new phase starts, except teardown, which always runs.
    if (signal.aborted && phase !== 'teardown') throw new Interrupted();
    evidence.enter(phase);
    const timing: PhaseTiming = { phase, startedAt: new Date().toISOString(), finishedAt: '', status: 'done' };
    phases.push(timing);
    try {
      return await wrap(phase, body);
    } catch (error) {
      timing.status = 'failed';
      timing.note = secrets.redact(errorText(error));
      throw error;
    } finally {
      timing.finishedAt = new Date().toISOString();
    }
  };

  let grant: GrantRecord | undefined;
  let residue: string[] = [];
  const removed: string[] = [];
  const teardownErrors: string[] = [];

  try {
    await runPhase('setup', () => mechanism.setup(ctx));

    const baseline = await runPhase('baseline', async () => {
      const entitlements = await mechanism.entitlements(ctx);
      evidence.record('entitlements snapshot before the grant', { count: entitlements.length, entitlements });
      const standing = await mechanism.probeStanding(ctx);
      recordProbe(evidence, 'privileged action attempted without a grant', standing);
      addCheck('zero-standing-privilege', verdictWhenDenialExpected(standing.outcome), describeStanding(standing));
      return entitlements;
    });

    const issued = await runPhase('request', async () => {
      evidence.record('grant requested', {
        taskId: ctx.task.id,
        approver: ctx.task.approver,
        windowSeconds: ctx.task.windowSeconds,
        needs: ctx.task.needs,
      });
      const record = await mechanism.request(ctx);
      evidence.record('grant issued', summariseGrant(record), new Date(record.issuedAt));
      metrics.ttlSeconds = record.ttlGrantedSeconds;
      metrics.ttlRequestedSeconds = record.ttlRequestedSeconds;
      judgeTtl(record, ctx.task.windowSeconds, addCheck);
      // A mechanism that cannot state the granted scope leaves the width unknown, not zero.
      metrics.privilegeWidth = record.scopeGranted.length > 0 ? record.scopeGranted.length / ctx.task.needs.length : null;
      if (scenario.limits) {
        const width = metrics.privilegeWidth ?? Number.POSITIVE_INFINITY;
        addCheck(
          'privilege-width',
          width <= scenario.limits.maxPrivilegeWidth ? 'pass' : 'fail',
          `granted ${record.scopeGranted.length} (${record.scopeGranted.join(', ')}) for ${ctx.task.needs.length} needed: width ${width.toFixed(2)}, bound ${scenario.limits.maxPrivilegeWidth}`,
        );
      }
      return record;
    });
    grant = issued;

    const usable = await runPhase('use', async () => {
      const used = await mechanism.use(ctx, issued);
      recordProbe(evidence, 'first use of the grant', used);
      const verdict = verdictWhenUseExpected(used.outcome);
      addCheck(
        'grant-usable',
        verdict,
        verdict === 'pass' ? `the grant worked for the task (${used.detail})` : `the grant did not work for the task (${used.outcome}: ${used.detail}); nothing after it was tested`,
      );
      return verdict === 'pass';
    });

    const end = await runPhase('end', () => endGrant(ctx, mechanism, issued, scenario, options.onWait));

    await runPhase('reuse', async () => {
      if (!usable) {
        for (const check of new Set(issued.handles.map((h) => h.check))) {
          addCheck(check, 'inconclusive', 'not tested: the grant never worked, so a denial now proves nothing');
        }
        return;
      }
      if (issued.handles.length === 0) {
        addCheck('reuse-denied', 'inconclusive', 'the grant offered nothing to probe after the end, so reuse was not tested');
        return;
      }
      const observations = await Promise.all(
        issued.handles.map((handle) =>
          pollUntilDenied(handle, { endedAt: end.endedAt, deadlineAt: end.deadlineAt, evidence, signal, singleUse: scenario.end.mode === 'consumed' }),
        ),
      );
      judgeReuse(observations, end.endedAt, metrics, addCheck);
    });

    residue = await runPhase('residue', () => measureResidue(ctx, mechanism, baseline, end.deadlineAt, addCheck));
    metrics.residue = residue.length;
  } catch (error) {
    const phase = evidence.phase;
    // p-retry rejects with the signal's reason on abort, not with Interrupted.
    const reason = error instanceof Interrupted || signal.aborted ? 'interrupted' : errorText(error);
    evidence.record(`lifecycle stopped in ${phase}: ${reason}`);
    addCheck('lifecycle-completed', 'inconclusive', `${phase}: ${reason}`);
  } finally {
    await runPhase('teardown', async () => {
      for (const handle of grant?.handles ?? []) {
        await handle.close?.().catch((error: unknown) => teardownErrors.push(`close ${handle.name}: ${errorText(error)}`));
      }
      try {
        removed.push(...(await mechanism.teardown(ctx)));
        evidence.record('harness removed what it created', { removed });
      } catch (error) {
        teardownErrors.push(errorText(error));
        evidence.record(`teardown incomplete: ${errorText(error)}`);
      }
    }).catch(() => undefined);
  }

  const verdict = worstOf(checks.map((c) => c.verdict));
  // Redacted as a whole at the end: secrets registered late (a child token) are covered too.
  return secrets.redactValue<ScenarioResult>({
    id: scenario.id,
    title: scenario.title,
    proves: scenario.proves,
    adapter: adapter.name,
    mechanism: scenario.mechanism,
    severity: scenario.severity,
    source: scenario.source,
    target: { mode: options.connection.mode, address: options.connection.address, facts: options.connection.facts },
    runId: options.runId,
    startedAt,
    finishedAt: new Date().toISOString(),
    verdict,
    checks,
    controls: [...new Set(checks.flatMap((c) => c.controls))].sort(),
    metrics,
    task: { ...ctx.task, endMode: scenario.end.mode },
    grant: grant ? summariseGrant(grant) : null,
    residue,
    phases,
    teardown: { removed, errors: teardownErrors },
    evidence: evidence.events,
    secretFingerprints: secrets.fingerprints(),
  });
}

interface EndInstant {
  /** When the grant ended: revoke call started, or the moment it was due to expire. */
  endedAt: number;
  /** After this, a still-working credential is a fail. */
  deadlineAt: number;
}

async function endGrant<C>(
  ctx: ScenarioContext<unknown, C>,
  mechanism: Mechanism<unknown, C>,
  grant: GrantRecord,
  scenario: Scenario,
  onWait: WaitReporter | undefined,
): Promise<EndInstant> {
  const deadlineMs = scenario.reuse.deadlineSeconds * 1000;
  const mode: EndMode = scenario.end.mode;
  if (scenario.end.mode === 'expire') {
    // The approval window bounds the wait even when the target states a later expiry (or none):
    // privilege must not outlive the window, whatever the target promised.
    const windowEnd = Date.parse(grant.issuedAt) + ctx.task.windowSeconds * 1000;
    const stated = grant.expiresAt === null ? Number.POSITIVE_INFINITY : Date.parse(grant.expiresAt);
    const endedAt = Math.min(windowEnd, stated);
    const graceMs = scenario.end.graceSeconds * 1000;
    ctx.evidence.record('waiting for the target to expire the grant', {
      statedExpiry: grant.expiresAt,
      approvalWindowEnds: new Date(windowEnd).toISOString(),
      judgedAt: new Date(endedAt).toISOString(),
      graceSeconds: scenario.end.graceSeconds,
    });
    await waitUntil(endedAt, `${scenario.adapter}/${scenario.id}: ${grant.credentialId} to expire`, ctx.signal, onWait);
    await mechanism.end(ctx, grant, mode);
    ctx.evidence.record('grant due to have expired', { at: new Date(endedAt).toISOString() }, new Date(endedAt));
    return { endedAt, deadlineAt: endedAt + graceMs + deadlineMs };
  }
  const endedAt = Date.now();
  await mechanism.end(ctx, grant, mode);
  ctx.evidence.record(mode === 'revoke' ? 'grant revoked at task end' : 'task ended; single-use grant consumed', {
    callMs: Date.now() - endedAt,
  });
  return { endedAt, deadlineAt: endedAt + deadlineMs };
}

function judgeTtl(record: GrantRecord, windowSeconds: number, addCheck: (n: string, v: CheckVerdict, d: string) => void): void {
  const granted = record.ttlGrantedSeconds;
  if (granted === null) {
    addCheck('ttl-bounded', 'fail', `the target states no expiry for ${record.credentialId}; approval window is ${windowSeconds} s`);
  } else if (granted > windowSeconds + TTL_ROUNDING_SECONDS) {
    addCheck('ttl-bounded', 'fail', `granted TTL ${granted} s exceeds the approval window of ${windowSeconds} s`);
  } else {
    addCheck('ttl-bounded', 'pass', `granted TTL ${granted} s within the approval window of ${windowSeconds} s (asked ${record.ttlRequestedSeconds ?? 'none'})`);
  }
}

function judgeReuse(
  observations: ReuseObservation[],
  endedAt: number,
  metrics: ScenarioMetrics,
  addCheck: (n: string, v: CheckVerdict, d: string) => void,
): void {
  const byCheck = new Map<string, ReuseObservation[]>();
  for (const o of observations) byCheck.set(o.check, [...(byCheck.get(o.check) ?? []), o]);
  for (const [check, group] of byCheck) {
    addCheck(check, worstOf(group.map((o) => o.verdict)) as CheckVerdict, group.map((o) => o.detail).join('; '));
  }
  const denials = observations.map((o) => o.firstDenied).filter((p): p is ProbeResult => p !== undefined);
  if (denials.length === observations.length && denials.length > 0) {
    metrics.revocationLatencyMs = Math.max(...denials.map((d) => Date.parse(d.at) - endedAt));
  }
  const lastAllowed = observations.map((o) => o.lastAllowed).filter((p): p is ProbeResult => p !== undefined);
  metrics.sessionOutlivedTtlMs = Math.max(0, ...lastAllowed.map((p) => Date.parse(p.at) - endedAt));
}

/**
 * Residue is read from the target, never from the harness's bookkeeping. Targets reap expired
 * grants asynchronously, so the diff is re-read until it is empty or the reuse deadline passes.
 */
async function measureResidue<C>(
  ctx: ScenarioContext<unknown, C>,
  mechanism: Mechanism<unknown, C>,
  baseline: string[],
  deadlineAt: number,
  addCheck: (n: string, v: CheckVerdict, d: string) => void,
): Promise<string[]> {
  const before = new Set(baseline);
  let left: string[] = [];
  class ResidueLeft extends Error {}
  try {
    await pRetry(
      async () => {
        const after = await mechanism.entitlements(ctx);
        left = after.filter((e) => !before.has(e));
        if (left.length > 0) throw new ResidueLeft();
      },
      { retries: 10_000, minTimeout: 100, maxTimeout: 1000, factor: 1.5, randomize: false, maxRetryTime: Math.max(0, deadlineAt - Date.now()), signal: ctx.signal },
    );
  } catch (error) {
    if (!(error instanceof ResidueLeft)) throw error;
  }
  ctx.evidence.record('entitlements snapshot after the task', { residue: left });
  addCheck(
    'no-residue',
    left.length === 0 ? 'pass' : 'fail',
    left.length === 0 ? 'the target holds nothing the task left behind' : `manual cleanup needed: ${left.join(', ')}`,
  );
  return left;
}

function recordProbe(evidence: Evidence, what: string, probe: ProbeResult): void {
  evidence.record(`${what}: ${probe.outcome}`, { outcome: probe.outcome, answer: probe.detail }, new Date(probe.at));
}

function describeStanding(probe: ProbeResult): string {
  if (probe.outcome === 'denied') return `denied before the grant (${probe.detail})`;
  if (probe.outcome === 'allowed') return `standing privilege: allowed before any grant (${probe.detail})`;
  return `could not tell whether the identity holds standing privilege (${probe.detail})`;
}

function summariseGrant(record: GrantRecord): ScenarioResult['grant'] & object {
  const { handles, ...rest } = record;
  return { ...rest, handles: handles.map((h) => h.name) };
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.name;
  return String(error);
}
