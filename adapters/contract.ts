/**
 * The adapter contract: everything the lifecycle engine knows about a kind of target.
 *
 * An adapter is one folder under `adapters/` whose `index.ts` default-exports an {@link Adapter}.
 * The registry discovers folders at run time, so adding an adapter touches no engine code.
 */
import type { z } from 'zod';
import type { SecretRegistry } from '../scenarios/secrets.ts';
import type { Evidence } from '../scenarios/evidence.ts';

/** How the harness reaches a target (DESIGN.md "Three ways to reach a target"). */
export type TargetMode = 'local' | 'container' | 'external';
export const TARGET_MODES: readonly TargetMode[] = ['local', 'container', 'external'];

/** A probe is tri-state. `unknown` is never read as `denied`. */
export type ProbeOutcome = 'allowed' | 'denied' | 'unknown';

export interface ProbeResult {
  outcome: ProbeOutcome;
  /** ISO timestamp of when the target answered (or the probe gave up). */
  at: string;
  /** The target's own answer in a few words: "HTTP 403 permission denied", "ECONNREFUSED". Never a secret. */
  detail: string;
}

/**
 * What a running target hands to scenario workers. `connection` must be plain JSON: the CLI
 * process starts targets and passes the connection to vitest workers through the environment.
 */
export interface TargetConnection {
  adapter: string;
  mode: TargetMode;
  /** Where the target answers, for the report: "http://127.0.0.1:40123". */
  address: string;
  /** Adapter-specific fields (credentials included); secret fields are registered for redaction. */
  settings: Record<string, string>;
  /** Names of `settings` keys that hold secret values. */
  secretSettings: string[];
  /** What the report may say about the target: product, version, mode. */
  facts: Record<string, string>;
}

/** A target the harness itself started (local process or container); stopped by the caller. */
export interface StartedTarget {
  connection: TargetConnection;
  /** Process id of a local server, so a killed run can still be stopped by `jitc cleanup`. */
  pid?: number;
  stop(): Promise<void>;
}

export interface ProvisionOptions {
  runId: string;
  /** Directory for the target's files (config, database, logs); removed by stop(). */
  workDir: string;
  /** Project root, for `.targets/` (installed binaries). */
  projectRoot: string;
  /** Adapter-specific settings from the config file (external endpoints, overrides). */
  config: Record<string, unknown>;
  /** The config file they came from, so an error in them names it. */
  configFile?: string;
  log: (line: string) => void;
}

/** What the installer must provide for the `local` mode. Pinned versions only. */
export interface LocalRequirements {
  /** PyPI requirement specifiers installed into the project venv (`.targets/venv`). */
  pip?: string[];
  /** Debian packages installed with apt when missing. */
  apt?: string[];
  /** Executables that must answer after install, relative to the venv bin dir or absolute. */
  commands: string[];
}

export interface TargetProvisioning {
  local?: { requirements: LocalRequirements; start(options: ProvisionOptions): Promise<StartedTarget> };
  container?: { start(options: ProvisionOptions): Promise<StartedTarget> };
  /** Build a connection from the environment or the config file; throws {@link InputError} if incomplete. */
  external?: { connect(options: ProvisionOptions): Promise<TargetConnection> };
  /** The adapter's section of the config file (`vault:`…): checked whole in every target mode, before anything starts. */
  configSection?: z.ZodType<unknown>;
}

/** One thing the harness can still try after the grant ended: the credential, a child, an open session. */
export interface ReuseHandle {
  /** "JIT token", "child token", "LDAP connection opened during use". */
  name: string;
  /** The check this handle's reuse result evidences (catalogue id). */
  check: string;
  /**
   * Try the privileged action once with this handle. A credential handle opens a new connection
   * for every probe (no keep-alive reuse), so each answer comes from a freshly balanced request.
   * `node`, when given, is one address from the scenario's `reuse.nodes` (a replica behind a
   * sticky balancer): the probe goes to that address instead of the target's own. A handle that
   * is bound to one connection (a session opened during use) ignores it.
   */
  probe(node?: string): Promise<ProbeResult>;
  /** A session opened during use, bound to its own connection: probed there, once per poll, whatever the nodes. */
  boundToConnection?: boolean;
  /** Release client-side resources (close a socket); never a target-side revoke. */
  close?(): Promise<void>;
}

/** When the holder tries to extend its own grant: while the window is open, or after the task ended. */
export type ExtensionMoment = 'inside-window' | 'after-end';

/**
 * One way the holder of a credential may try to stretch its own privilege (renew itself, mint a
 * child or a key, refresh its own TTL, chain to a fresh session), tried with the granted
 * credential itself, never the broker's or an admin's. Declared per credential type, so every
 * grant of that type is tried the same way whoever issued it. See docs/architecture.md.
 */
export interface ExtensionAttempt {
  /** "renew-self by 24 h", "child token with a 1 h TTL", "refresh own entryTtl to 86400 s". */
  name: string;
  /** Inside the window it aims past the window's end; after the end it tries to bring the grant back. */
  attempt(moment: ExtensionMoment): Promise<ExtensionResult>;
}

export interface ExtensionResult {
  /** `refused` only from the target's own specific answer, as for probes; anything unread is `unknown`. */
  outcome: 'refused' | 'extended' | 'unknown';
  /** ISO time of the target's answer. */
  at: string;
  /** The target's answer in a few words; never a secret. */
  detail: string;
  /**
   * With `extended`: until when the privilege now reaches, as the target states it (its own
   * clock); null when the target states no end. The engine judges it against the window.
   */
  reachesUntil?: string | null;
  /**
   * Credentials the holder minted (a child token, a key, a chained session): the engine probes
   * them after the end like the grant itself. The mechanism's `entitlements` must see them, so
   * they also count as residue while they live.
   */
  minted?: ReuseHandle[];
}

/** Facts about a grant as the target states them. No secret values: accessors and fingerprints only. */
export interface GrantRecord {
  /** Public identifier of the credential: accessor, key id, DN, fingerprint. */
  credentialId: string;
  /** When the target says it issued the grant (its own clock where it states one). */
  issuedAt: string;
  /** When the target says the grant expires; null when it states no expiry. */
  expiresAt: string | null;
  /** TTL the broker asked for, seconds; null when none was asked. */
  ttlRequestedSeconds: number | null;
  /** TTL the target granted, seconds; null when the grant does not expire. */
  ttlGrantedSeconds: number | null;
  /** Scope granted, in the target's own terms ("policy:jitc-…", "s3:GetObject arn:…"). */
  scopeGranted: string[];
  /** Anything else worth recording: renewable, num_uses, policies. */
  attributes: Record<string, string | number | boolean | null>;
  /** What the engine probes again after the grant ended. The first one is the credential itself. */
  handles: ReuseHandle[];
  /** How the holder could try to extend the grant itself; judged as `holder-cannot-extend`. */
  extensions: ExtensionAttempt[];
}

/** A finding a mechanism reports beyond the engine's own checks (e.g. a renewal past the cap). */
export interface MechanismFinding {
  check: string;
  verdict: 'pass' | 'fail' | 'inconclusive';
  detail: string;
}

export type EndMode = 'expire' | 'revoke' | 'consumed';

/** Everything a mechanism may use while running one scenario. */
export interface ScenarioContext<P, C> {
  runId: string;
  scenarioId: string;
  /** Prefix every object the harness creates carries: `jitc-<runId>-<scenarioId>`. */
  prefix: string;
  params: P;
  client: C;
  connection: TargetConnection;
  task: TaskSpec;
  evidence: Evidence;
  secrets: SecretRegistry;
  /** Mechanism-private state between phases (fixtures it created). */
  state: Map<string, unknown>;
  /** Findings beyond the engine's checks; the engine folds them into the verdict. */
  report(finding: MechanismFinding): void;
  signal: AbortSignal;
}

export interface TaskSpec {
  /** Approval window in seconds: the privilege must not outlive it. */
  windowSeconds: number;
  approver: string;
  /** Scope the task declares it needs, in the target's terms. */
  needs: string[];
  /** Task id recorded with the grant; defaults to `<runId>/<scenarioId>`. */
  id: string;
}

/**
 * A native JIT mechanism of a target (a token TTL, an AppRole secret_id, response wrapping).
 * Scenario files name a mechanism and give it parameters; the mechanism fills the lifecycle's slots.
 */
export interface Mechanism<P = unknown, C = unknown> {
  title: string;
  params: z.ZodType<P>;
  /**
   * Every check id this mechanism can produce for these params beyond the engine's own
   * lifecycle checks ({@link LIFECYCLE_CHECKS}): its handles' checks, its findings and
   * `holder-cannot-extend` when its grants offer extension attempts. The engine refuses an
   * undeclared check; `jitc list` prints what is declared.
   */
  checks(params: P): readonly string[];
  /** Create the fixtures the task needs (secret, policy, identity). Everything is named with ctx.prefix. */
  setup(ctx: ScenarioContext<P, C>): Promise<void>;
  /** The entitlements that concern this scenario, read from the target itself (for residue). */
  entitlements(ctx: ScenarioContext<P, C>): Promise<string[]>;
  /** The privileged action attempted by the identity before any grant. */
  probeStanding(ctx: ScenarioContext<P, C>): Promise<ProbeResult>;
  /** The broker grants. Secret values go to ctx.secrets, never into the record. */
  request(ctx: ScenarioContext<P, C>): Promise<GrantRecord>;
  /** Use the grant for the task; may open sessions and add them to grant.handles. */
  use(ctx: ScenarioContext<P, C>, grant: GrantRecord): Promise<ProbeResult>;
  /**
   * End the grant as the scenario says. `expire` usually does nothing: the target must do it. May
   * add to grant.handles what only the end mode makes meaningful (a credential that must expire).
   */
  end(ctx: ScenarioContext<P, C>, grant: GrantRecord, mode: EndMode): Promise<void>;
  /** Remove what the harness created for this scenario. Returns what was removed. */
  teardown(ctx: ScenarioContext<P, C>): Promise<string[]>;
}

/** What a sweep of leftovers found and removed. */
export interface CleanupReport {
  removed: string[];
  failed: string[];
}

export interface Adapter<C = unknown> {
  /** Folder name and suite name: `vault`. */
  name: string;
  title: string;
  /** Which products it speaks to, for `jitc list`. */
  products: string[];
  targets: TargetProvisioning;
  /** A client for scenario workers from a connection. */
  connect(connection: TargetConnection): Promise<C>;
  /** Close the client (sockets, agents). */
  disconnect?(client: C): Promise<void>;
  /**
   * Mechanisms by name; scenario files refer to them. Each mechanism parses its own params, so
   * the record erases P: the engine only ever passes a mechanism the value its own schema produced.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- existential over P, see above
  mechanisms: Record<string, Mechanism<any, C>>;
  /** Remove everything carrying the run id (or any jitc run id when runId is undefined). */
  cleanup(client: C, runId: string | undefined): Promise<CleanupReport>;
}

/**
 * The mechanism a scenario names, if the adapter has one by that name. Own properties only: a
 * scenario file naming "valueOf" or "constructor" must not reach Object.prototype.
 */
export function mechanismOf<C>(adapter: Adapter<C>, name: string): Mechanism<unknown, C> | undefined {
  return Object.hasOwn(adapter.mechanisms, name) ? (adapter.mechanisms[name] as Mechanism<unknown, C>) : undefined;
}

/** The checks the engine itself produces for every scenario (privilege-width only with limits). */
export const LIFECYCLE_CHECKS = ['zero-standing-privilege', 'ttl-bounded', 'grant-usable', 'no-residue', 'lifecycle-completed'] as const;
