/**
 * The lifecycle engine: setup → baseline → request → use → end → reuse → residue → teardown,
 * written once. A grant source (the broker half) and a point of use (the observer half) fill the
 * slots, from one adapter or two; the engine alone turns what they observe into check verdicts,
 * so every target is judged by the same rules. See docs/architecture.md.
 */
import { setMaxListeners } from 'node:events';
import pRetry from 'p-retry';
import {
  LIFECYCLE_CHECKS,
  ownEntry,
  type Adapter,
  type EndMode,
  type ExtensionMoment,
  type ExtensionAttempt,
  type ExtensionResult,
  type Grant,
  type GrantContext,
  type GrantRecord,
  type GrantSource,
  type PointOfUse,
  type ProbeResult,
  type ReuseHandle,
  type ScenarioContext,
  type TargetConnection,
  type TaskSpec,
  runPrefix,
  UNREADABLE,
} from '../adapters/contract.ts';
import { type Urgency, withUrgency } from '../adapters/call-urgency.ts';
import { checkDefinition } from './catalogue.ts';
import { Evidence, type Phase } from './evidence.ts';
import { processLoopLag } from './loop-lag.ts';
import { pollUntilDenied, type ReuseObservation } from './reuse-poll.ts';
import { type CheckResult, emptyMetrics, type GrantSummary, type PhaseTiming, resultSkeleton, type ScenarioMetrics, type ScenarioResult } from './result.ts';
import type { Scenario } from './schema.ts';
import { SecretRegistry } from './secrets.ts';
import { anyPathAllowed, type CheckVerdict, verdictWhenDenialExpected, verdictWhenUseExpected, worstOf } from './verdict.ts';
import { Interrupted, sleep, waitUntil, type WaitReporter } from './wait.ts';
import { errorText } from './input.ts';
import { type AdmissionTicket, processAdmission, processPreparations, processTeardowns, shortestTtlMs } from './admission.ts';
import { brokerChecks, judgeApprovalChain, judgeBrokerStatedTtl, judgeClaimsAfterReuse, judgeClaimsAtIssue } from './broker-claims.ts';
import { checkContextBinding, driftChecks } from './drift.ts';

/** Wraps each phase, so a reporter can show it as a step (Allure) without the engine knowing. */
export type PhaseWrapper = <T>(phase: Phase, body: () => Promise<T>) => Promise<T>;

/** A target the run brought up, connected: what a half runs against. */
export interface BoundTarget {
  adapter: Adapter;
  client: unknown;
  connection: TargetConnection;
}

export interface EngineOptions {
  runId: string;
  /** Connected targets by adapter name: the scenario's two halves may come from two of them. */
  targets: Readonly<Record<string, BoundTarget>>;
  signal: AbortSignal;
  /** Secrets known before the scenario (target credentials); the scenario adds its own. */
  secrets?: SecretRegistry;
  phase?: PhaseWrapper;
  onWait?: WaitReporter;
}

/** How soon each phase's calls must be answered, for a target that queues them (call-urgency.ts): from the grant's request to its last in-window attempt the TTL runs. */
const URGENCY: Record<Phase, Urgency> = {
  setup: 'in-turn',
  baseline: 'in-turn',
  request: 'in-window',
  use: 'in-window',
  end: 'in-turn',
  reuse: 'in-turn',
  residue: 'in-turn',
  teardown: 'in-turn',
};

/** Rounding allowance when comparing a granted TTL with the approval window. */
const TTL_ROUNDING_SECONDS = 1;

export async function runScenario(scenario: Scenario, options: EngineOptions): Promise<ScenarioResult> {
  // The scenario waits on a signal of its own that follows the run's: every sleep and poll adds
  // and removes a listener, and an AbortSignal finds a listener by walking all it holds, so on the
  // run's one signal hundreds of scenarios made each wait cost as much as every other wait at once.
  const run = options.signal;
  const own = new AbortController();
  setMaxListeners(0, own.signal);
  const follow = (): void => own.abort(run.reason);
  if (run.aborted) follow();
  else run.addEventListener('abort', follow, { once: true });
  try {
    return await lifecycle(scenario, { ...options, signal: own.signal });
  } finally {
    run.removeEventListener('abort', follow);
  }
}

async function lifecycle(scenario: Scenario, options: EngineOptions): Promise<ScenarioResult> {
  const { signal } = options;
  // Setups and baselines queue in the process's own lane; every scenario of a suite file shares it.
  const preparations = processPreparations();
  const bound = (adapter: string): BoundTarget => {
    const target = ownEntry(options.targets, adapter);
    if (!target) throw new Error(`scenario ${scenario.id} needs a target of adapter ${adapter}, which the run did not bring up`);
    return target;
  };
  const useTarget = bound(scenario.use.adapter);
  const grantTarget = bound(scenario.grant.adapter);
  const point = ownEntry(useTarget.adapter.pointsOfUse, scenario.use.name);
  const source = ownEntry(grantTarget.adapter.grantSources, scenario.grant.name);
  if (!point) throw new Error(`adapter ${scenario.use.adapter} has no point of use ${scenario.use.name}`);
  if (!source) throw new Error(`adapter ${scenario.grant.adapter} has no grant source ${scenario.grant.name}`);
  const pointName = `${scenario.use.adapter}/${scenario.use.name}`;
  const sourceName = `${scenario.grant.adapter}/${scenario.grant.name}`;

  const secrets = options.secrets ?? new SecretRegistry();
  for (const connection of new Set([useTarget.connection, grantTarget.connection])) {
    for (const key of connection.secretSettings) {
      const value = connection.settings[key];
      if (value) secrets.add(value);
    }
  }
  const evidence = new Evidence(secrets, { breakGlass: scenario.breakGlass });
  const checks: CheckResult[] = [];
  const phases: PhaseTiming[] = [];
  const startedAt = new Date().toISOString();
  const metrics: ScenarioMetrics = emptyMetrics();
  const declared = new Set(declaredChecks(scenario, source, point));
  const addCheck = (name: string, verdict: CheckVerdict, detail: string): void => {
    // A check nobody declared would reach the report unannounced: `jitc list` would not show it.
    if (!declared.has(name)) throw new Error(`check "${name}" is not declared by grant source ${sourceName} or point of use ${pointName}`);
    const def = checkDefinition(name);
    // One entry per check: a second finding on it (a minted credential's reuse under
    // holder-cannot-extend) joins the first, and the worse verdict stands.
    const existing = checks.find((c) => c.name === name);
    if (existing) {
      existing.verdict = worstOf([existing.verdict, verdict]) as CheckVerdict;
      existing.detail = `${existing.detail}; ${secrets.redact(detail)}`;
      return;
    }
    // The target-specific remedy a half declares comes before the catalogue's general one.
    const remediation = ownEntry(source.remediation ?? {}, name) ?? ownEntry(point.remediation ?? {}, name) ?? def.remediation;
    checks.push({
      name,
      title: def.title,
      verdict,
      detail: secrets.redact(detail),
      severity: def.severity,
      controls: def.controls,
      ...(remediation ? { remediation } : {}),
    });
  };

  const { task, useCtx, grantCtx } = halfContexts(scenario, { point, pointName, useTarget, grantTarget }, {
    runId: options.runId,
    evidence,
    secrets,
    signal,
    report: (finding) => addCheck(finding.check, finding.verdict, finding.detail),
  });
  /** What reaches the resource and what the source issued: residue is read from both halves. */
  const entitlements = async (): Promise<string[]> => [...(await point.entitlements(useCtx)), ...(await source.entitlements(grantCtx))];

  const wrap: PhaseWrapper = options.phase ?? ((_phase, body) => body());
  const runPhase = async <T>(phase: Phase, body: () => Promise<T>): Promise<T> => {
    // After an interrupt no new phase starts, except teardown, which always runs.
    if (signal.aborted && phase !== 'teardown') throw new Interrupted();
    evidence.enter(phase);
    const timing: PhaseTiming = { phase, startedAt: new Date().toISOString(), finishedAt: '', status: 'done' };
    phases.push(timing);
    try {
      return await withUrgency(URGENCY[phase], () => wrap(phase, body));
    } catch (error) {
      timing.status = 'failed';
      timing.note = secrets.redact(errorText(error));
      throw error;
    } finally {
      timing.finishedAt = new Date().toISOString();
    }
  };

  let grant: Grant | undefined;
  let sourceSetUp = false;
  /** The admission held from the request to the end of the in-window attempts; given back at once if the lifecycle stops between. */
  let ticket: AdmissionTicket | undefined;
  /** Everything probed after the end: the grant's handles and whatever the holder minted. */
  const handles: ReuseHandle[] = [];
  /** Every handle polled after the end, on every node it was polled on, with what was seen. */
  let polled: Polled[] = [];
  let observations: ReuseObservation[] | undefined;
  let end: EndInstant | undefined;
  let firstUseAt: string | undefined;
  let residue: string[] = [];
  const removed: string[] = [];
  const teardownErrors: string[] = [];

  try {
    await preparations(() => runPhase('setup', async () => {
      grantCtx.resource = await point.setup(useCtx);
      sourceSetUp = true;
      await source.setup(grantCtx);
    }));

    const baseline = await preparations(() => runPhase('baseline', async () => {
      const before = await entitlements();
      evidence.record('entitlements snapshot before the grant', { count: before.length, entitlements: before });
      // Standing privilege at the point of use itself, and by the grant path (self-service) when it has one.
      const standing = anyPathAllowed([await askUntilAnswered(() => point.probeStanding(useCtx), evidence, signal), ...(source.probeStanding ? [await source.probeStanding(grantCtx)] : [])]);
      recordProbe(evidence, 'privileged action attempted without a grant', standing);
      addCheck('zero-standing-privilege', verdictWhenDenialExpected(standing.outcome), describeStanding(standing));
      return before;
    }));

    const issued = await runPhase('request', async () => {
      // Admitted only when the harness can use the grant promptly: its TTL starts at issue.
      const admission = processAdmission();
      ticket = await admission.admit(shortestTtlMs(task.windowSeconds, scenario.grant.params, scenario.use.params), signal);
      metrics.harnessLag.admissionWaitMs = ticket.waitedMs;
      if (ticket.waitedMs > 0 || ticket.overBudget) {
        evidence.record(
          ticket.overBudget
            ? `admitted after ${ticket.waitedMs} ms although the harness was not prompt (event loop late by more than ${Math.round(ticket.budgetMs)} ms, or every slot taken): its lag may eat the grant`
            : `admitted after ${ticket.waitedMs} ms, once the event loop was late by less than ${Math.round(ticket.budgetMs)} ms and a slot was free`,
          admission.state(),
        );
      }
      evidence.record('grant requested', {
        taskId: task.id,
        approver: task.approver,
        windowSeconds: task.windowSeconds,
        needs: task.needs,
        grantSource: sourceName,
        pointOfUse: pointName,
      });
      const record = await source.request(grantCtx);
      evidence.record('grant issued', summariseGrant(record), new Date(record.issuedAt));
      metrics.ttlSeconds = record.ttlGrantedSeconds;
      metrics.ttlRequestedSeconds = record.ttlRequestedSeconds;
      // A broker's word about the TTL stands in only where the target states nothing, and only a wait can prove it.
      if (record.claims && !record.claims.target) judgeBrokerStatedTtl(record, task.windowSeconds, scenario.end.mode, addCheck);
      else judgeTtl(record, task.windowSeconds, addCheck);
      if (record.claims) judgeClaimsAtIssue(record.claims, record, task.windowSeconds, addCheck);
      // A grant source that cannot state the granted scope leaves the width unknown, not zero.
      metrics.privilegeWidth = record.scopeGranted.length > 0 ? record.scopeGranted.length / task.needs.length : null;
      if (scenario.limits) {
        const width = metrics.privilegeWidth ?? Number.POSITIVE_INFINITY;
        addCheck(
          'privilege-width',
          width <= scenario.limits.maxPrivilegeWidth ? 'pass' : 'fail',
          `granted ${record.scopeGranted.length} (${record.scopeGranted.join(', ')}) for ${task.needs.length} needed: width ${width.toFixed(2)}, bound ${scenario.limits.maxPrivilegeWidth}`,
        );
      }
      return record;
    });
    grant = issued;
    const extensions: ExtensionOutcome[] = [];

    // The first use, then what must land inside the TTL beside it: the context and extension attempts.
    const useInsideWindow = async (): Promise<boolean> => {
      const { sessions, ...used } = await point.use(useCtx, issued.credential);
      // Sessions opened during use join the grant's handles at once, so teardown closes them whatever the verdict.
      issued.handles.push(...(sessions ?? []));
      recordProbe(evidence, 'first use of the grant', used);
      firstUseAt = used.at;
      // The harness's own lag, measured in every result: a late first use must never blame the target.
      const lagMs = Date.parse(used.at) - Date.parse(issued.issuedAt);
      metrics.harnessLag.issueToFirstUseMs = lagMs;
      const verdict = verdictWhenUseExpected(used.outcome);
      const ate = issued.expiresAt !== null && Date.parse(used.at) >= Date.parse(issued.expiresAt);
      addCheck(
        'grant-usable',
        verdict,
        verdict === 'pass'
          ? `the grant worked for the task (${used.detail})`
          : ate
            ? `the harness lagged: it first used the grant ${lagMs} ms after issue, at or past its stated expiry, so nothing was tested (${used.outcome}: ${used.detail}); the target is not blamed`
            : `the grant did not work for the task (${used.outcome}: ${used.detail}); nothing after it was tested`,
      );
      // Inside the window, right after the first use: the same credential from elsewhere.
      await checkContextBinding(useCtx, { name: pointName, half: point }, issued.credential, scenario.context, verdict === 'pass', addCheck);
      if (verdict !== 'pass') return false;
      await source.afterUse?.(grantCtx, issued);
      handles.push(...issued.handles);
      extensions.push(...(await tryExtensions(grantCtx, issued, 'inside-window', handles)));
      return true;
    };

    const usable = await runPhase('use', async () => {
      try {
        return await useInsideWindow();
      } finally {
        // The slot is held through every attempt that must land inside the TTL, not only the first use.
        ticket?.release(true);
      }
    });

    const ended = await runPhase('end', () => endGrant(grantCtx, source, issued, scenario, options.onWait));
    end = ended;

    await runPhase('reuse', async () => {
      if (!usable) {
        const notTested = new Set(issued.handles.map((h) => h.check));
        if (issued.extensions.length > 0) notTested.add('holder-cannot-extend');
        for (const check of notTested) addCheck(check, 'inconclusive', 'not tested: the grant never worked, so a denial now proves nothing');
        return;
      }
      // A handle the grant source could only name once it knew how the grant ends (added by `end`).
      for (const handle of issued.handles) if (!handles.includes(handle)) handles.push(handle);
      const nodes: (string | undefined)[] = scenario.reuse.nodes ?? [undefined];
      const poll = (list: ReuseHandle[]): Promise<Polled[]> =>
        Promise.all(
          list.flatMap((handle) =>
            (handle.boundToConnection ? [undefined] : nodes).map(async (node) => ({
              handle,
              node,
              observation: await pollUntilDenied(handle, { ...ended, evidence, signal, singleUse: scenario.end.mode === 'consumed', ...(node ? { node } : {}) }),
            })),
          ),
        );
      // The holder's attempts after the end run alongside the poll: a slow or silent target must
      // not push the first reuse probe past the deadline. What they mint is polled afterwards.
      const mintedAfterEnd: ReuseHandle[] = [];
      const [afterEnd, seen] = await Promise.all([tryExtensions(grantCtx, issued, 'after-end', mintedAfterEnd), poll([...handles])]);
      extensions.push(...afterEnd);
      if (issued.extensions.length > 0) judgeExtensions(extensions, issued, task, addCheck);
      handles.push(...mintedAfterEnd);
      if (handles.length === 0) {
        addCheck('reuse-denied', 'inconclusive', 'the grant offered nothing to probe after the end, so reuse was not tested');
        return;
      }
      polled = [...seen, ...(await poll(mintedAfterEnd))];
      observations = polled.map((p) => p.observation);
      const firstProbe = Math.min(...observations.map((o) => o.attempts[0]?.sentAt ?? Number.POSITIVE_INFINITY));
      if (Number.isFinite(firstProbe)) metrics.harnessLag.endToFirstReuseMs = firstProbe - ended.endedAt;
    });

    residue = await runPhase('residue', async () => {
      const left = await measureResidue(grantCtx, entitlements, baseline, ended.deadlineAt, addCheck);
      // Once more, just before teardown: a credential that came back after its confirmed denial
      // (a replica catching up the wrong way, a cache refilled) is caught here.
      await probeOnceMore(polled, ended.endedAt, evidence);
      return left;
    });
    metrics.residue = residue.length;
  } catch (error) {
    const phase = evidence.phase;
    // p-retry rejects with the signal's reason on abort, not with Interrupted.
    const reason = error instanceof Interrupted || signal.aborted ? 'interrupted' : errorText(error);
    evidence.record(`lifecycle stopped in ${phase}: ${reason}`);
    addCheck('lifecycle-completed', 'inconclusive', `${phase}: ${reason}`);
  } finally {
    ticket?.release(false);
    // Judged whatever happened after the poll: an observed reuse is a finding even if a later phase broke.
    if (observations && end) judgeReuse(observations, end.endedAt, metrics, addCheck);
    const claims = grant?.claims;
    if (grant && claims) {
      if (end && observations) {
        const credential = grant.handles[0];
        judgeClaimsAfterReuse(claims, scenario.end.mode, polled.filter((p) => p.handle === credential).map((p) => p.observation), end.endedAt, addCheck);
      }
      judgeApprovalChain({ claims, issuedAt: grant.issuedAt, firstUseAt, endedAt: end?.endedAt }, evidence, addCheck);
    }
    await processTeardowns()(() => runPhase('teardown', async () => {
      for (const handle of handles.length > 0 ? handles : (grant?.handles ?? [])) {
        await handle.close?.().catch((error: unknown) => teardownErrors.push(`close ${handle.name}: ${errorText(error)}`));
      }
      // The source first (what it issued may depend on the resource), then the point of use.
      const halves: [string, () => Promise<string[]>][] = [
        ...(sourceSetUp ? [[sourceName, () => source.teardown(grantCtx)] as [string, () => Promise<string[]>]] : []),
        [pointName, () => point.teardown(useCtx)],
      ];
      for (const [name, teardown] of halves) {
        try {
          removed.push(...(await teardown()));
        } catch (error) {
          teardownErrors.push(`${name}: ${errorText(error)}`);
          evidence.record(`teardown of ${name} incomplete: ${errorText(error)}`);
        }
      }
      evidence.record('harness removed what it created', { removed });
    })).catch(() => undefined);
  }

  const verdict = worstOf(checks.map((c) => c.verdict));
  const target = { mode: useTarget.connection.mode, address: useTarget.connection.address, facts: useTarget.connection.facts };
  // Redacted as a whole at the end: secrets registered late (a child token) are covered too.
  return secrets.redactValue<ScenarioResult>({
    ...resultSkeleton(scenario, options.runId, target, startedAt),
    finishedAt: new Date().toISOString(),
    verdict,
    checks,
    controls: [...new Set(checks.flatMap((c) => c.controls))].sort(),
    metrics,
    task: { ...task, endMode: scenario.end.mode },
    issued: grant ? summariseGrant(grant) : null,
    residue,
    phases,
    teardown: { removed, errors: teardownErrors },
    evidence: evidence.events,
    secretFingerprints: secrets.fingerprints(),
  });
}

/** What both halves' contexts share: the run, the evidence, the secrets, the findings and the interrupt. */
export interface SharedContext {
  runId: string;
  evidence: Evidence;
  secrets: SecretRegistry;
  signal: AbortSignal;
  report: ScenarioContext<unknown, unknown>['report'];
}

/**
 * The two contexts of one scenario: the point of use's, and the grant source's, which reaches the
 * point of use only through `pointOfUse.probe`. Each keeps its own state; `grantCtx.resource` is
 * set from the point of use's setup.
 */
export function halfContexts(
  scenario: Pick<Scenario, 'id' | 'task' | 'grant' | 'use' | 'dir'>,
  halves: { point: PointOfUse; pointName: string; useTarget: BoundTarget; grantTarget: BoundTarget },
  shared: SharedContext,
): { task: TaskSpec; useCtx: ScenarioContext<unknown, unknown>; grantCtx: GrantContext<unknown, unknown> } {
  const task: TaskSpec = { windowSeconds: scenario.task.windowSeconds, approver: scenario.task.approver, needs: scenario.task.needs, id: `${shared.runId}/${scenario.id}` };
  const contextFor = (target: BoundTarget, params: unknown): ScenarioContext<unknown, unknown> => ({
    runId: shared.runId,
    scenarioId: scenario.id,
    prefix: `${runPrefix(shared.runId)}${scenario.id}`,
    params,
    client: target.client,
    connection: target.connection,
    task,
    evidence: shared.evidence,
    secrets: shared.secrets,
    state: new Map(),
    report: shared.report,
    signal: shared.signal,
    dir: scenario.dir,
  });
  const useCtx = contextFor(halves.useTarget, scenario.use.params);
  const grantCtx: GrantContext<unknown, unknown> = {
    ...contextFor(halves.grantTarget, scenario.grant.params),
    resource: { description: '', terms: {} },
    pointOfUse: {
      name: halves.pointName,
      probe: (credential, node) => halves.point.probe(useCtx, credential, node),
      inspect: async (credential) => (halves.point.inspect ? halves.point.inspect(useCtx, credential) : undefined),
      extensions: (credential, grant) => halves.point.extensions?.(useCtx, credential, grant) ?? [],
      lookUp: async (ref) => {
        const { adapter, client } = halves.useTarget;
        if (!adapter.lookUp) return { state: 'unknown', detail: `the ${adapter.name} target offers no look-up of named objects` };
        // A look-up that throws answered nothing: unknown, never gone.
        return adapter.lookUp(client, ref).catch((error: unknown) => ({ state: 'unknown' as const, detail: `look-up of ${ref} failed: ${errorText(error)}` }));
      },
      targetEnvironment: () => halves.useTarget.adapter.hookEnvironment?.(halves.useTarget.connection) ?? {},
    },
  };
  return { task, useCtx, grantCtx };
}

/** Every check a scenario can produce: the engine's own (privilege-width only with limits), then each half's. */
export function declaredChecks(scenario: Scenario, source: GrantSource, point: PointOfUse): string[] {
  return [
    ...new Set([
      ...LIFECYCLE_CHECKS,
      ...(scenario.limits ? ['privilege-width'] : []),
      ...(source.brokered ? brokerChecks(scenario.end.mode) : []),
      ...driftChecks(scenario),
      ...source.checks(scenario.grant.params),
      ...point.checks(scenario.use.params),
    ]),
  ];
}

interface EndInstant {
  /** When the end was requested: the revoke call started, or the moment the grant was due to expire. */
  endedAt: number;
  /** When the end call returned; the revoke call's own time counts against the deadline. */
  endReturnedAt: number;
  /** How long this process could not run during the end call (its own lag, not the target's). */
  endCallLagMs: number;
  /** The promise: from here on a still-working credential is a fail. */
  deadlineAt: number;
}

async function endGrant(
  ctx: GrantContext<unknown, unknown>,
  source: GrantSource,
  grant: Grant,
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
    // A broker's own stated expiry is a promise too: the credential must be dead by the earliest of them.
    const promised = grant.claims?.expiresAt ? Date.parse(grant.claims.expiresAt) : Number.POSITIVE_INFINITY;
    const endedAt = Math.min(windowEnd, stated, promised);
    const graceMs = scenario.end.graceSeconds * 1000;
    ctx.evidence.record('waiting for the target to expire the grant', {
      statedExpiry: grant.expiresAt,
      ...(grant.claims ? { brokerStatedExpiry: grant.claims.expiresAt } : {}),
      approvalWindowEnds: new Date(windowEnd).toISOString(),
      judgedAt: new Date(endedAt).toISOString(),
      graceSeconds: scenario.end.graceSeconds,
    });
    await waitUntil(endedAt, `${scenario.adapter}/${scenario.id}: ${grant.credentialId} to expire`, ctx.signal, onWait);
    await source.end(ctx, grant, mode);
    const deadlineAt = endedAt + graceMs + deadlineMs;
    ctx.evidence.record('grant due to have expired', { at: new Date(endedAt).toISOString(), deadline: new Date(deadlineAt).toISOString() }, new Date(endedAt));
    // Waiting is the harness's job, not the target's: an expiry call is not a revoke call.
    return { endedAt, endReturnedAt: endedAt, endCallLagMs: 0, deadlineAt };
  }
  const endedAt = Date.now();
  const deadlineAt = endedAt + deadlineMs;
  ctx.evidence.record(mode === 'revoke' ? 'grant revocation requested at task end' : 'task ended; single-use grant consumed', {
    deadline: new Date(deadlineAt).toISOString(),
  }, new Date(endedAt));
  await source.end(ctx, grant, mode);
  const endReturnedAt = Date.now();
  const endCallLagMs = processLoopLag().during(endedAt, endReturnedAt);
  ctx.evidence.record(mode === 'revoke' ? 'revoke call returned' : 'end call returned', { callMs: endReturnedAt - endedAt, harnessLagMs: endCallLagMs });
  return { endedAt, endReturnedAt, endCallLagMs, deadlineAt };
}

/** What one extension attempt answered, and when it was tried. */
interface ExtensionOutcome extends ExtensionResult {
  name: string;
  moment: ExtensionMoment;
  /** The grant's end as the target stated it when the attempt began (inside the window): a refusal after it proves nothing. */
  grantEndedAt?: string | null;
}

/**
 * The holder tries to extend its own grant with the credential itself. Whatever it mints joins
 * the handles probed after the end, so a child or key that outlives the task is caught.
 */
async function tryExtensions(ctx: ScenarioContext<unknown, unknown>, grant: GrantRecord, moment: ExtensionMoment, handles: ReuseHandle[]): Promise<ExtensionOutcome[]> {
  const tryOne = async (extension: ExtensionAttempt): Promise<ExtensionOutcome> => {
    let result: ExtensionResult;
    try {
      result = await extension.attempt(moment);
    } catch (error) {
      result = { outcome: 'unknown', at: new Date().toISOString(), detail: errorText(error) };
    }
    // The expiry as the target states it once this one is answered: a renewal tried beside it may
    // have moved it, and a renewal that worked did so while the grant still lived.
    const grantEndedAt = grant.expiresAt;
    handles.push(...(result.minted ?? []));
    ctx.evidence.record(
      `holder tried to extend its own grant ${moment === 'inside-window' ? 'inside the window' : 'after the end'}: ${extension.name}: ${result.outcome}`,
      { answer: result.detail, reachesUntil: result.reachesUntil ?? null, minted: (result.minted ?? []).map((h) => h.name) },
      new Date(result.at),
    );
    return { ...result, name: extension.name, moment, ...(moment === 'inside-window' ? { grantEndedAt } : {}) };
  };
  const outcomes = new Map<ExtensionAttempt, ExtensionOutcome>();
  await Promise.all(
    grant.extensions.filter((e) => e.independent).map(async (e) => outcomes.set(e, await tryOne(e))),
  );
  for (const e of grant.extensions.filter((x) => !x.independent)) outcomes.set(e, await tryOne(e));
  return grant.extensions.map((e) => outcomes.get(e)!);
}

/**
 * `holder-cannot-extend`: an extension reaching past the approval window (or with no stated end),
 * or any extension after the task ended, is a fail; inside the window it is a renewal under the
 * task's own approval, recorded with its approver.
 */
function judgeExtensions(outcomes: ExtensionOutcome[], grant: GrantRecord, task: ScenarioContext<unknown, unknown>['task'], addCheck: (n: string, v: CheckVerdict, d: string) => void): void {
  const windowEnd = Date.parse(grant.issuedAt) + task.windowSeconds * 1000;
  const parts = outcomes.map((o): { verdict: CheckVerdict; detail: string } => {
    const label = `${o.name} (${o.moment})`;
    if (o.outcome === 'unknown') return { verdict: 'inconclusive', detail: `${label}: could not tell whether it worked (${o.detail})` };
    if (o.outcome === 'refused') {
      // Refused once the grant had already ended (the harness came late): the refusal may be the end's, not the target's rule.
      const ended = Math.min(windowEnd, o.grantEndedAt ? Date.parse(o.grantEndedAt) : Number.POSITIVE_INFINITY);
      if (o.moment === 'inside-window' && Date.parse(o.at) >= ended) {
        return { verdict: 'inconclusive', detail: `${label}: the harness lagged: the attempt was answered at ${o.at}, once the grant had already ended, so its refusal proves nothing; the target is not blamed (${o.detail})` };
      }
      return { verdict: 'pass', detail: `${label}: refused (${o.detail})` };
    }
    if (o.moment === 'after-end') return { verdict: 'fail', detail: `${label}: the holder brought its grant back after the task ended (${o.detail})` };
    const reach = o.reachesUntil === undefined || o.reachesUntil === null ? Number.POSITIVE_INFINITY : Date.parse(o.reachesUntil);
    if (reach > windowEnd + TTL_ROUNDING_SECONDS * 1000) {
      const past = Number.isFinite(reach) ? `${Math.round((reach - windowEnd) / 1000)} s past` : 'with no end, past';
      return { verdict: 'fail', detail: `${label}: the holder extended its own grant ${past} the approval window of ${task.windowSeconds} s (${o.detail})` };
    }
    return { verdict: 'pass', detail: `${label}: extended within the approval window, under the task's approval by ${task.approver} (${o.detail})` };
  });
  const verdict = worstOf(parts.map((p) => p.verdict)) as CheckVerdict;
  const shown = verdict === 'pass' ? parts : parts.filter((p) => p.verdict === verdict);
  addCheck('holder-cannot-extend', verdict, shown.map((p) => p.detail).join('; '));
}

/** One handle polled on one node (or on the target's own address), and what the poll saw. */
interface Polled {
  handle: ReuseHandle;
  node: string | undefined;
  observation: ReuseObservation;
}

/**
 * Probe every handle once more, on every node it was polled on; an answer that is not a denial
 * reopens that poll's verdict.
 */
async function probeOnceMore(polled: Polled[], endedAt: number, evidence: Evidence): Promise<void> {
  await Promise.all(
    polled.map(async ({ handle, node, observation: o }) => {
      const sentAt = Date.now();
      const result = await handle.probe(node);
      evidence.record(`last probe before teardown with ${o.handle}: ${result.outcome}`, { answer: result.detail, msAfterEnd: sentAt - endedAt }, new Date(result.at));
      if (result.outcome === 'denied' || o.verdict === 'fail') return;
      if (result.outcome === 'allowed') {
        o.verdict = 'fail';
        o.lastAllowed = { ...result, sentAt, dueAt: sentAt };
        o.detail = `${o.handle} allowed again just before teardown, ${sentAt - endedAt} ms after the end (${result.detail}); earlier: ${o.detail}`;
      } else if (o.verdict === 'pass') {
        o.verdict = 'inconclusive';
        o.detail = `${o.handle}: the last probe before teardown got no denial (${result.detail}); earlier: ${o.detail}`;
      }
    }),
  );
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

function judgeReuse(observations: ReuseObservation[], endedAt: number, metrics: ScenarioMetrics, addCheck: (n: string, v: CheckVerdict, d: string) => void): void {
  const byCheck = new Map<string, ReuseObservation[]>();
  for (const o of observations) byCheck.set(o.check, [...(byCheck.get(o.check) ?? []), o]);
  for (const [check, group] of byCheck) {
    addCheck(check, worstOf(group.map((o) => o.verdict)) as CheckVerdict, group.map((o) => o.detail).join('; '));
  }
  const revoked = observations.filter((o) => o.revokedAt !== undefined && o.verdict === 'pass');
  if (revoked.length === observations.length && revoked.length > 0) {
    metrics.revocationLatencyMs = Math.max(...revoked.map((o) => Date.parse(o.revokedAt!.at) - endedAt));
  }
  metrics.sessionOutlivedTtlMs = Math.max(0, ...observations.map((o) => (o.lastAllowed ? Date.parse(o.lastAllowed.at) - endedAt : 0)));
}

/** However late residue is read, a target reaping asynchronously gets at least this long to settle. */
const RESIDUE_SETTLE_MS = 1000;

/**
 * Residue is read from the target, never from the harness's bookkeeping. Targets reap expired
 * grants asynchronously, so the diff is re-read until it is empty or the reuse deadline passes
 * (at least {@link RESIDUE_SETTLE_MS}); the wait is recorded with the snapshot.
 */
async function measureResidue(
  ctx: ScenarioContext<unknown, unknown>,
  entitlements: () => Promise<string[]>,
  baseline: string[],
  deadlineAt: number,
  addCheck: (n: string, v: CheckVerdict, d: string) => void,
): Promise<string[]> {
  const before = new Set(baseline);
  const started = Date.now();
  let reads = 0;
  let left: string[] = [];
  class ResidueLeft extends Error {}
  try {
    await pRetry(
      async () => {
        reads += 1;
        const after = await entitlements();
        left = after.filter((e) => !before.has(e));
        if (left.length > 0) throw new ResidueLeft();
      },
      { retries: 10_000, minTimeout: 100, maxTimeout: 1000, factor: 1.5, randomize: false, maxRetryTime: Math.max(RESIDUE_SETTLE_MS, deadlineAt - Date.now()), signal: ctx.signal },
    );
  } catch (error) {
    if (!(error instanceof ResidueLeft)) throw error;
  }
  ctx.evidence.record('entitlements snapshot after the task', { residue: left, reads, waitedMs: Date.now() - started });
  // What the target would not answer for may or may not be left: unknown, unless something readable was.
  const readable = left.filter((e) => !e.startsWith(UNREADABLE));
  if (left.length === 0) addCheck('no-residue', 'pass', 'the target holds nothing the task left behind');
  else if (readable.length > 0) addCheck('no-residue', 'fail', `manual cleanup needed: ${left.join(', ')}`);
  else addCheck('no-residue', 'inconclusive', `the target did not answer for what may be left: ${left.join(', ')}`);
  return left;
}

/** Attempts at the standing probe, and the pause before each retry: a busy target's timeout says nothing, a later answer does. */
const STANDING_RETRY_PAUSES_MS = [250, 750];

/**
 * The point of use's standing probe, asked again while it answers nothing a verdict can rest on.
 * Only this probe is retried: it is the requester's read of the resource, which changes nothing,
 * whereas a grant path's self-service attempt or a credential's first use may have taken effect
 * even when its answer was lost.
 */
async function askUntilAnswered(probe: () => Promise<ProbeResult>, evidence: Evidence, signal: AbortSignal): Promise<ProbeResult> {
  let answer = await probe();
  for (const pauseMs of STANDING_RETRY_PAUSES_MS) {
    if (answer.outcome !== 'unknown') break;
    evidence.record(`standing probe answered nothing conclusive, asked again in ${pauseMs} ms`, { answer: answer.detail }, new Date(answer.at));
    await sleep(pauseMs, signal);
    answer = await probe();
  }
  return answer;
}

function recordProbe(evidence: Evidence, what: string, probe: ProbeResult): void {
  evidence.record(`${what}: ${probe.outcome}`, { outcome: probe.outcome, answer: probe.detail }, new Date(probe.at));
}

function describeStanding(probe: ProbeResult): string {
  if (probe.outcome === 'denied') return `denied before the grant (${probe.detail})`;
  if (probe.outcome === 'allowed') return `standing privilege: allowed before any grant (${probe.detail})`;
  return `could not tell whether the identity holds standing privilege (${probe.detail})`;
}

function summariseGrant(record: Grant): GrantSummary {
  // The credential itself never reaches a result: only its public id (in the record) does.
  const { handles, extensions, credential: _credential, ...rest } = record;
  return { ...rest, handles: handles.map((h) => h.name), extensions: extensions.map((e) => e.name) };
}
