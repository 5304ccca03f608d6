/**
 * An in-process fake target for unit tests of pure logic only: a grant source and a point of use
 * whose every answer is scripted, a log of what the engine asked of them, and a finished-result
 * builder for the report writers' tests. Nothing here talks to a real target; conformance is
 * proven by test/integration.
 */
import { z } from 'zod';
import type {
  Adapter,
  EndMode,
  ExtensionAttempt,
  Finding,
  Grant,
  GrantSource,
  PointOfUse,
  ProbeOutcome,
  ProbeResult,
  ReuseHandle,
  ScenarioContext,
  TargetConnection,
} from '../../adapters/contract.ts';
import type { BoundTarget } from '../../scenarios/engine.ts';
import { checkDefinition, loadCatalogue } from '../../scenarios/catalogue.ts';
import { type CheckResult, resultSkeleton, type ScenarioResult } from '../../scenarios/result.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import { type CheckVerdict, type Verdict, worstOf } from '../../scenarios/verdict.ts';

export const FAKE_ADAPTER = 'fake';
/** The fake's native pair, grant source and point of use all share this name. */
export const FAKE_MECHANISM = 'scripted';

/** The fake target's client: nothing to connect to. */
export interface FakeClient {
  readonly kind: 'fake';
}

const fakeParams = z.strictObject({});
type FakeParams = z.infer<typeof fakeParams>;
export type FakeContext = ScenarioContext<FakeParams, FakeClient>;

/** The lifecycle slots the fake records, whichever half fills them. */
export type MechanismStep = 'setup' | 'entitlements' | 'probeStanding' | 'request' | 'use' | 'end' | 'teardown';

/** A probe answer as a target would give it, timestamped now. */
export function answer(outcome: ProbeOutcome, detail: string = defaultDetail(outcome)): ProbeResult {
  return { outcome, at: new Date().toISOString(), detail };
}

function defaultDetail(outcome: ProbeOutcome): string {
  if (outcome === 'allowed') return 'HTTP 200';
  if (outcome === 'denied') return 'HTTP 403 permission denied';
  return 'ECONNREFUSED';
}

export interface ScriptedHandle extends ReuseHandle {
  /** How many times the engine probed it. */
  probes: number;
  closed: boolean;
}

/**
 * A reuse handle whose answers are scripted: an array is answered in order and its last entry
 * repeated; a function gets the attempt number (1-based) and decides.
 */
export function scriptedHandle(
  name: string,
  check: string,
  answers: readonly ProbeOutcome[] | ((attempt: number) => ProbeResult),
): ScriptedHandle {
  const handle: ScriptedHandle = {
    name,
    check,
    probes: 0,
    closed: false,
    probe: async () => {
      handle.probes += 1;
      if (typeof answers === 'function') return answers(handle.probes);
      const outcome = answers[Math.min(handle.probes, answers.length) - 1];
      if (outcome === undefined) throw new Error(`handle ${name} has no scripted answers`);
      return answer(outcome);
    },
    close: async () => {
      handle.closed = true;
    },
  };
  return handle;
}

/** What the fake target answers. Every field defaults to a conformant target. */
export interface FakeScript {
  /** The privileged action before the grant; default denied. A list is answered in order, its last entry repeated. */
  standing?: ProbeOutcome | readonly ProbeOutcome[];
  /** The privileged action with the grant; default allowed. */
  use?: ProbeOutcome;
  /** TTL the target states; default the approval window. null: the grant does not expire. */
  ttlGrantedSeconds?: number | null;
  /** Stated expiry, ms after issue; default the granted TTL; null: no stated expiry. */
  expiresAfterMs?: number | null;
  /** Scope the target granted; default exactly what the task needs. */
  scopeGranted?: string[];
  /** Handles the grant offers for reuse; default one `reuse-denied` handle the target denies at once. */
  handles?: () => ReuseHandle[];
  /** Entitlements the grant leaves on the target after it ended (residue). */
  leftBehind?: string[];
  /** Entitlement reads after the end that still show the credential before the target reaps it. */
  reapedAfterReads?: number;
  /** Mechanism steps that throw, with the error message they throw. */
  throwIn?: Partial<Record<MechanismStep, string>>;
  /** A secret value the broker hands out; registered with ctx.secrets at request. */
  secret?: string;
  /** Findings the mechanism reports during use. */
  findings?: Finding[];
  /** What teardown says it removed. */
  removes?: string[];
  /** How the holder may try to extend the grant; default none. */
  extensions?: () => ExtensionAttempt[];
  /** Check ids the mechanism declares; default every check in the catalogue. */
  declares?: string[];
  /** Extra behaviour per step, run before the scripted answer (record evidence, slip a secret…). */
  hooks?: Partial<Record<MechanismStep, (ctx: FakeContext, grant: Grant | undefined) => void | Promise<void>>>;
}

export interface StepCall {
  step: MechanismStep;
  /** Epoch ms when the engine called the step. */
  at: number;
  mode?: EndMode;
}

export interface FakeTarget {
  adapter: Adapter<FakeClient>;
  client: FakeClient;
  connection: TargetConnection;
  /** The fake as the engine takes it: one connected target. */
  targets: Record<string, BoundTarget>;
  /** Every mechanism step the engine called, in order. */
  calls: StepCall[];
  steps(): MechanismStep[];
  /** The grant the fake broker issued, once issued. */
  grant(): Grant | undefined;
  /** The context the engine handed the mechanism. */
  context(): FakeContext | undefined;
}

const IDENTITY = 'identity jitc-fake-requester';

export function fakeTarget(script: FakeScript = {}): FakeTarget {
  const calls: StepCall[] = [];
  let grant: Grant | undefined;
  let context: FakeContext | undefined;
  let active = false;
  let readsAfterEnd = 0;
  let ended = false;

  const step = async (name: MechanismStep, ctx: FakeContext, mode?: EndMode): Promise<void> => {
    context = ctx;
    calls.push(mode === undefined ? { step: name, at: Date.now() } : { step: name, at: Date.now(), mode });
    await script.hooks?.[name]?.(ctx, grant);
    const failure = script.throwIn?.[name];
    if (failure !== undefined) throw new Error(failure);
  };

  // The point of use fills the observer's slots and the grant source the broker's; the fake
  // records both in one log, so a test reads the lifecycle's order whichever half was asked.
  const declares = (): string[] => script.declares ?? [...loadCatalogue().checks.keys()];
  const pointOfUse: PointOfUse<FakeParams, FakeClient> = {
    title: 'Scripted in-process resource',
    params: fakeParams,
    accepts: ['bearer-token'],
    offers: ['fake.resource'],
    checks: declares,
    async setup(ctx) {
      await step('setup', ctx);
      return { description: 'the task secret', terms: { 'fake.resource': ctx.prefix } };
    },
    async entitlements(ctx) {
      await step('entitlements', ctx);
      const held = [IDENTITY];
      if (grant && (active || (ended && readsAfterEnd++ < (script.reapedAfterReads ?? 0)))) held.push(`credential ${grant.credentialId}`);
      if (grant) held.push(...(script.leftBehind ?? []));
      return held;
    },
    async probeStanding(ctx) {
      await step('probeStanding', ctx);
      const asked = calls.filter((c) => c.step === 'probeStanding').length;
      const standing = script.standing ?? 'denied';
      return answer(typeof standing === 'string' ? standing : (standing[Math.min(asked, standing.length) - 1] ?? 'unknown'));
    },
    probe: async () => answer(script.use ?? 'allowed'),
    async use(ctx) {
      await step('use', ctx);
      for (const finding of script.findings ?? []) ctx.report(finding);
      return answer(script.use ?? 'allowed', script.use === undefined || script.use === 'allowed' ? `read the task secret with ${grant?.credentialId}` : undefined);
    },
    async teardown(ctx) {
      await step('teardown', ctx);
      return script.removes ?? [`fixtures ${ctx.prefix}`];
    },
  };
  const grantSource: GrantSource<FakeParams, FakeClient> = {
    title: 'Scripted in-process grant',
    params: fakeParams,
    issues: ['bearer-token'],
    needs: ['fake.resource'],
    checks: declares,
    setup: async () => undefined,
    entitlements: async () => [],
    async request(ctx) {
      await step('request', ctx);
      if (script.secret !== undefined) ctx.secrets.add(script.secret);
      const issued = Date.now();
      const ttl = script.ttlGrantedSeconds === undefined ? ctx.task.windowSeconds : script.ttlGrantedSeconds;
      const expiresAfterMs = script.expiresAfterMs === undefined ? (ttl === null ? null : ttl * 1000) : script.expiresAfterMs;
      grant = {
        credentialId: `fake-accessor-${ctx.prefix}`,
        issuedAt: new Date(issued).toISOString(),
        expiresAt: expiresAfterMs === null ? null : new Date(issued + expiresAfterMs).toISOString(),
        ttlRequestedSeconds: ctx.task.windowSeconds,
        ttlGrantedSeconds: ttl,
        scopeGranted: script.scopeGranted ?? [...ctx.task.needs],
        attributes: { renewable: false },
        handles: script.handles?.() ?? [scriptedHandle('fake credential', 'reuse-denied', ['denied'])],
        extensions: script.extensions?.() ?? [],
        credential: { type: 'bearer-token', token: script.secret ?? `fake-token-${ctx.prefix}` },
      };
      active = true;
      return grant;
    },
    async end(ctx, _grant, mode) {
      await step('end', ctx, mode);
      active = false;
      ended = true;
    },
    teardown: async () => [],
  };

  const adapter: Adapter<FakeClient> = {
    name: FAKE_ADAPTER,
    title: 'In-process fake target',
    products: ['nothing real'],
    targets: {},
    connect: async () => ({ kind: 'fake' }),
    grantSources: { [FAKE_MECHANISM]: grantSource },
    pointsOfUse: { [FAKE_MECHANISM]: pointOfUse },
    pairs: { [FAKE_MECHANISM]: { source: FAKE_MECHANISM, pointOfUse: FAKE_MECHANISM } },
    cleanup: async () => ({ removed: [], failed: [] }),
    leftovers: async () => [],
    longWait: { scenario: 'fake-grant', ttlParam: 'ttlSeconds' },
  };
  const client: FakeClient = { kind: 'fake' };
  const connection = fakeConnection();

  return {
    adapter,
    client,
    connection,
    targets: { [FAKE_ADAPTER]: { adapter: adapter as Adapter, client, connection } },
    calls,
    steps: () => calls.map((c) => c.step),
    grant: () => grant,
    context: () => context,
  };
}

export function fakeConnection(overrides: Partial<TargetConnection> = {}): TargetConnection {
  return {
    adapter: FAKE_ADAPTER,
    mode: 'local',
    address: 'in-process',
    settings: {},
    secretSettings: [],
    facts: { product: 'fake' },
    ...overrides,
  };
}

/** A scenario for the fake adapter: revoke at task end, short windows so tests stay fast. */
export function fakeScenario(overrides: Partial<Scenario> = {}): Scenario {
  return {
    id: 'fake-grant',
    title: 'A scripted grant',
    proves: 'what the engine makes of scripted answers',
    adapter: FAKE_ADAPTER,
    pair: FAKE_MECHANISM,
    grant: { adapter: FAKE_ADAPTER, name: FAKE_MECHANISM, params: {} },
    use: { adapter: FAKE_ADAPTER, name: FAKE_MECHANISM, params: {} },
    severity: 'high',
    task: { windowSeconds: 1, approver: 'jitc-change-approval', needs: ['read the task secret'] },
    end: { mode: 'revoke' },
    reuse: { deadlineSeconds: 0.3 },
    source: 'test/support/fake-adapter.ts',
    dir: process.cwd(),
    ...overrides,
  };
}

/** A check as the engine records it, with its title, severity and controls from the catalogue. */
export function checkResult(name: string, verdict: CheckVerdict, detail = `${name} ${verdict}`): CheckResult {
  const def = checkDefinition(name);
  return { name, title: def.title, verdict, detail, severity: def.severity, controls: def.controls };
}

/** A finished scenario result, as the engine would produce it, for the report writers' tests. */
export function fakeResult(overrides: Partial<ScenarioResult> & { checks?: CheckResult[] } = {}): ScenarioResult {
  const checks = overrides.checks ?? [checkResult('reuse-denied', 'pass')];
  const verdict: Verdict = overrides.verdict ?? worstOf(checks.map((c) => c.verdict));
  const scenario = fakeScenario({
    id: 'token-ttl-expiry',
    title: 'A JIT token dies at its TTL',
    proves: 'the token is denied after its TTL',
    adapter: 'vault',
    pair: 'token',
    grant: { adapter: 'vault', name: 'token', params: {} },
    use: { adapter: 'vault', name: 'kv-secret', params: {} },
    severity: 'critical',
    source: 'scenarios/builtin/vault/token-ttl-expiry.yaml',
    task: { windowSeconds: 3, approver: 'jitc-change-approval', needs: ['read the task secret'] },
    end: { mode: 'expire', graceSeconds: 1 },
  });
  return {
    ...resultSkeleton(scenario, 'r1', { mode: 'local', address: 'http://127.0.0.1:8200', facts: {} }, '2026-01-01T00:00:00.000Z'),
    finishedAt: '2026-01-01T00:00:04.250Z',
    controls: [...new Set(checks.flatMap((c) => c.controls))].sort(),
    metrics: { ttlSeconds: 3, ttlRequestedSeconds: 3, revocationLatencyMs: 120, sessionOutlivedTtlMs: 0, privilegeWidth: 1, residue: 0, harnessLag: { admissionWaitMs: 0, issueToFirstUseMs: 5, endToFirstReuseMs: 2 } },
    ...overrides,
    checks,
    verdict,
  };
}
