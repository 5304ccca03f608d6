/**
 * The adapter contract: everything the lifecycle engine knows about a kind of target.
 *
 * An adapter is one folder under `adapters/` whose `index.ts` default-exports an {@link Adapter}.
 * It offers grant sources (the broker half), points of use (the observer half) or both; a
 * credential passes from one to the other. The registry discovers folders at run time, so adding
 * an adapter touches no engine code. docs/architecture.md explains the words and the lifecycle.
 */
import type { z } from 'zod';
import { fingerprint, type SecretRegistry } from '../scenarios/secrets.ts';
import type { Evidence } from '../scenarios/evidence.ts';

/** How the harness reaches a target (README, "Reaching targets"). */
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
  /**
   * The system service a Debian package brings, by package (`slapd: 'slapd'`): the install forbids
   * it to start and disables it afterwards, so the system's own daemon never listens. The harness
   * runs its own server from its own configuration.
   */
  services?: Record<string, string>;
  /**
   * Programs no package ships, built at a pinned version from the Go module proxy
   * (`go install <package>`, the package given with its `@version`) and placed at `binary`, a path
   * under `.targets/`: a plugin a local server loads.
   */
  go?: GoBuild[];
  /**
   * Software no package manager ships, fetched as a published archive at a pinned version, its
   * checksum verified, unpacked under `.targets/` and, where it needs one, built once there.
   */
  download?: Download[];
  /** Executables that must answer after install, relative to the venv bin dir or absolute. */
  commands: string[];
}

export interface Download {
  /** The archive (a zip) as its publisher serves it, at a pinned version. */
  url: string;
  /** SHA-256 of the archive, measured once and pinned in the source: what is unpacked is what was reviewed. */
  sha256: string;
  /** The publisher's own checksum file beside the archive (Maven Central's `.sha1`), compared as well. */
  sha1Url?: string;
  /** The directory under `.targets/` the archive's top folder becomes (`keycloak-26.7.3`). */
  into: string;
  /** Programs the unpacked software runs with (`java`), looked up before anything is fetched; `hint` says how to get one. */
  needs?: { program: string; hint: string }[];
  /** Run once in the unpacked directory (a build the software does of itself); `command` is relative to it. */
  then?: { command: string; args: string[]; describe: string };
}

export interface GoBuild {
  /** `example.org/x/cmd/y@v1.2.3`: always with its version, so every machine builds the same program. */
  package: string;
  /** Where the program is placed, relative to `.targets/`. */
  binary: string;
}

export interface TargetProvisioning {
  local?: { requirements: LocalRequirements; start(options: ProvisionOptions): Promise<StartedTarget> };
  container?: { start(options: ProvisionOptions): Promise<StartedTarget> };
  external?: {
    /** Build a connection from the environment or the config file; throws {@link InputError} if incomplete. */
    connect(options: ProvisionOptions): Promise<TargetConnection>;
    /**
     * Whether the user names such a target at all, judged from what `connect` reads (the
     * adapter's section of the config file in `options.config`, empty when the file has none, and
     * the environment variables that say where the target is) without reaching it. A command that
     * sweeps every external target passes over one nobody named, and still refuses one that is
     * named but that `connect` cannot use: a half-given setting is a mistake, not an absence.
     * Absent: the adapter has no target of its own to name (the broker, whose hooks act on the
     * target of its point of use), so it is never missing and never counts as a target either.
     */
    configured?(options: ProvisionOptions): boolean;
    /** How a user names one, for the line saying nobody did: "set VAULT_ADDR (or BAO_ADDR), or vault.address in the config file". */
    howToConfigure?: string;
  };
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
  /**
   * True when neither this attempt nor the others declared so change what the others are answered
   * (three calls with one token that consume nothing): they are tried at once, so all of them
   * land inside a short TTL. Absent, attempts go one after another, as a refresh token one attempt
   * spends would refuse the next for the wrong reason.
   */
  independent?: boolean;
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
   * them after the end like the grant itself. The grant source's `entitlements` must see them, so
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
  /** What a user's broker said about the grant: evidence to compare with the target, never a verdict. */
  claims?: BrokerClaims;
}

/** A broker's own statements about one grant, as it answered them. No secret values. */
export interface BrokerClaims {
  /** When jitc sent the request (its own clock): the chain's first link. */
  requestedAt: string;
  /** The broker's id for the access request. */
  requestId: string | null;
  /** Who approved, as the broker states it. */
  approver: string | null;
  approvedAt: string | null;
  /** When the broker says the grant ends; null: it states no end. */
  expiresAt: string | null;
  /**
   * What the target itself states about the credential's end, read at issue; absent when the
   * target states nothing about this kind of credential (the record's expiry is then the broker's).
   */
  target?: { expiresAt: string | null; detail: string };
  /** Set by the source's `end` once the broker answered: whether it says the grant is ended, and when. */
  ended?: { ended: boolean; at: string; detail: string };
}

/** The checks the engine makes of a brokered grant's claims, by end mode (README.md, "What jitc checks of a broker"). */
export const BROKER_CHECKS = {
  always: ['broker-expiry-within-window', 'broker-expiry-honoured', 'approval-chain-recorded'],
  expire: [],
  revoke: ['broker-end-honoured'],
  consumed: [],
} as const;

/** A finding a grant source or point of use reports beyond the engine's own checks. */
export interface Finding {
  check: string;
  verdict: 'pass' | 'fail' | 'inconclusive';
  detail: string;
}

export type EndMode = 'expire' | 'revoke' | 'consumed';

/**
 * A credential: the typed value a grant source hands to a point of use. Every secret field is
 * registered for redaction the moment the credential is born ({@link bornCredential}), so no
 * half ever has to remember to.
 */
export type Credential =
  | { type: 'vault-token'; token: string; accessor: string }
  | { type: 'aws-keys'; accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | { type: 'ldap-bind'; dn: string; password: string }
  | { type: 'db-login'; user: string; password: string }
  | { type: 'ssh-certificate'; principal: string; certificate: string; privateKey: string }
  /** An X.509 client certificate: `certificate` is PEM, the leaf first, then the chain the client presents. */
  | { type: 'tls-client-certificate'; subject: string; serial: string; certificate: string; privateKey: string }
  | { type: 'bearer-token'; token: string };
export type CredentialType = Credential['type'];
export type CredentialOf<T extends CredentialType> = Extract<Credential, { type: T }>;

/** Which fields of each credential type hold secret values. */
const SECRET_FIELDS: { [T in CredentialType]: readonly (keyof CredentialOf<T>)[] } = {
  'vault-token': ['token'],
  'aws-keys': ['secretAccessKey', 'sessionToken'],
  'ldap-bind': ['password'],
  'db-login': ['password'],
  'ssh-certificate': ['privateKey'],
  'tls-client-certificate': ['privateKey'],
  'bearer-token': ['token'],
};

/** A credential as it arrives: its secret fields join the redaction list before anything can record them. */
export function bornCredential<T extends Credential>(secrets: SecretRegistry, credential: T): T {
  for (const field of SECRET_FIELDS[credential.type] as readonly string[]) {
    const value = (credential as Record<string, unknown>)[field];
    if (typeof value === 'string' && value !== '') secrets.add(value);
  }
  return credential;
}

/** A credential's public id, for evidence and for a broker's hooks: never its secret fields. */
export function publicId(credential: Credential): string {
  switch (credential.type) {
    case 'vault-token':
      return credential.accessor;
    case 'aws-keys':
      return credential.accessKeyId;
    case 'ldap-bind':
      return credential.dn;
    case 'db-login':
      return credential.user;
    case 'ssh-certificate':
      return credential.principal;
    case 'tls-client-certificate':
      return credential.serial;
    case 'bearer-token':
      return fingerprint(credential.token);
  }
}

/** Whether two credentials are one: the same public id, or any secret value in common. */
export function sameCredential(a: Credential, b: Credential): boolean {
  if (a.type !== b.type) return false;
  if (publicId(a) === publicId(b)) return true;
  const secretsOf = (c: Credential): string[] =>
    (SECRET_FIELDS[c.type] as readonly string[]).flatMap((field) => {
      const value = (c as Record<string, unknown>)[field];
      return typeof value === 'string' && value !== '' ? [value] : [];
    });
  const mine = new Set(secretsOf(a));
  return secretsOf(b).some((value) => mine.has(value));
}

/** The credential if it is of one of the types a half can handle; undefined otherwise. */
export function credentialOf<T extends CredentialType>(credential: Credential, type: T): CredentialOf<T> | undefined {
  return credential.type === type ? (credential as CredentialOf<T>) : undefined;
}

/**
 * What a point of use prepared for the task, handed to the grant source: named terms the grant
 * is made by (a Vault policy, an object ARN, a group DN), and the requester's own credential.
 * Term names are namespaced by the system they live in (`vault.policy`, `aws.object-arn`); a
 * point of use declares the terms it offers and a grant source those it needs, checked at load.
 */
export interface Resource {
  /** What the task needs, in the point of use's words: "read secret secret/data/jitc/…". */
  description: string;
  terms: Record<string, string>;
  /** The requester's own credential (its standing identity), when the point of use made one. */
  requester?: Credential;
}

/** Everything a half may use while running one scenario; each half gets its own. */
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
  /** Half-private state between phases (fixtures it created). The other half never sees it. */
  state: Map<string, unknown>;
  /** Findings beyond the engine's checks; the engine folds them into the verdict. */
  report(finding: Finding): void;
  signal: AbortSignal;
  /** The scenario file's directory: relative paths in its params are taken from there, and commands run there. */
  dir: string;
}

/** The point of use as a grant source sees it: the privileged action, tried with any credential. */
export interface PointOfUseProbe {
  /** "vault/kv-secret": for evidence and handle names. */
  name: string;
  /** The privileged action once with `credential`, on a new connection (to `node` when given). */
  probe(credential: Credential, node?: string): Promise<ProbeResult>;
  /** What the target states about `credential` ({@link PointOfUse.inspect}); undefined when it states nothing. */
  inspect(credential: Credential): Promise<CredentialFacts | undefined>;
  /** How the holder of `credential` may try to extend it at the point of use ({@link PointOfUse.extensions}). */
  extensions(credential: Credential, grant: GrantRecord): ExtensionAttempt[];
  /**
   * Whether the point of use's target still holds an object named by `ref`, in that target's own
   * terms ({@link Adapter.lookUp}): a grant source asks for what a user's broker says it made.
   * On a target without a look-up, or for a ref it cannot read, the answer is `unknown`.
   */
  lookUp(ref: string): Promise<LookUpResult>;
  /**
   * The point of use's target in its ecosystem's usual variables ({@link Adapter.hookEnvironment}):
   * admin credentials included, so a grant source hands it on only where the scenario says so.
   */
  targetEnvironment(): Record<string, string>;
}

/**
 * Whether a target holds a named object. `gone` only from the target's own answer that it has no
 * such object (a 404 from Vault's API, IAM's NoSuchEntity, LDAP's noSuchObject, no catalogue row);
 * anything else, a ref the target cannot read included, is `unknown`, never gone.
 */
export interface LookUpResult {
  state: 'present' | 'gone' | 'unknown';
  /** The target's answer in a few words: "GetRole: NoSuchEntity". Never a secret. */
  detail: string;
}

/**
 * What a target itself states about a credential it did not see issued (a user's broker issued
 * it): its lifetime and attributes, read with the credential (a token's lookup-self) or from what
 * the point of use can see (a membership's dynamic group). A broker's own claims are compared with
 * this, never trusted instead of it.
 */
export interface CredentialFacts {
  /** When the target says the credential (or the privilege it carries) ends; null: it states no end. */
  expiresAt: string | null;
  /** When the target says it was issued, where it states it. */
  issuedAt?: string;
  /** The lifetime the target gave it, seconds; null when it states no end. */
  ttlSeconds: number | null;
  /** Anything else the target states that bears on the grant: renewable, period, num_uses, policies. */
  attributes: Record<string, string | number | boolean | null>;
  /** The target's answer in a few words: "lookup-self: ttl 3 s, renewable false". Never a secret. */
  detail: string;
}

export interface GrantContext<P, C> extends ScenarioContext<P, C> {
  /** What the point of use prepared; set before the grant source's setup. */
  resource: Resource;
  pointOfUse: PointOfUseProbe;
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

/** A half's parameters: an object schema, so a native pair's params can be split by key. */
export type ParamsSchema<P> = z.ZodType<P> & { readonly shape: Readonly<Record<string, unknown>> };

/** What both halves declare: a title, their params and every check they can produce. */
interface Half<P> {
  title: string;
  params: ParamsSchema<P>;
  /**
   * Every check id this half can produce for these params beyond the engine's own lifecycle
   * checks ({@link LIFECYCLE_CHECKS}): its handles' checks, its findings, `holder-cannot-extend`
   * when its grants offer extension attempts. The engine refuses an undeclared check; `jitc list`
   * and the docs print what is declared.
   */
  checks(params: P): readonly string[];
  /**
   * How a scenario with these params may end, when not every way works (an existing role that is
   * never changed cannot be revoked): refused at load otherwise. Absent: every end mode.
   */
  endModes?(params: P): readonly EndMode[];
  /**
   * What is wrong with these params outside the file, which no schema can see (a command that is
   * not there), as `key: problem` lines; paths are taken from `dir`, the scenario file's directory.
   * Refused at load, before anything runs.
   */
  problems?(params: P, dir: string): readonly string[];
  /**
   * What to change on the target when one of its checks fails, in this target's own terms
   * ("set token_max_ttl on the role to the approval window"); the catalogue holds the generic text.
   */
  remediation?: Readonly<Record<string, string>>;
}

/** What using a credential for the task showed: the probe, and sessions it opened and holds across the end. */
export interface UseResult extends ProbeResult {
  sessions?: ReuseHandle[];
}

/** How an entitlement the target would not answer for starts: `unreadable token:<accessor> (<why>)`. */
export const UNREADABLE = 'unreadable ';

/**
 * The observer half: where the privilege is exercised and judged. It sets up the resource,
 * probes standing privilege, uses a credential, holds sessions open across the end and lists
 * what reaches its resource (for residue). It never issues or ends a grant.
 */
export interface PointOfUse<P = unknown, C = unknown> extends Half<P> {
  /** Credential types it can use. */
  accepts: readonly CredentialType[];
  /** Terms its {@link Resource} carries. */
  offers: readonly string[];
  /** Create the resource (and the requester identity) the task needs. Everything named with ctx.prefix. */
  setup(ctx: ScenarioContext<P, C>): Promise<Resource>;
  /**
   * What reaches the resource, read from the target itself (for residue). One the target would
   * not answer for is named with {@link UNREADABLE} first: unknown, never a pass or a fail alone.
   */
  entitlements(ctx: ScenarioContext<P, C>): Promise<string[]>;
  /** The privileged action attempted by the requester before any grant. */
  probeStanding(ctx: ScenarioContext<P, C>): Promise<ProbeResult>;
  /** The privileged action once with a credential, on a new connection (to `node` when given). */
  probe(ctx: ScenarioContext<P, C>, credential: Credential, node?: string): Promise<ProbeResult>;
  /** Use the credential for the task; may open sessions that the engine probes after the end. */
  use(ctx: ScenarioContext<P, C>, credential: Credential): Promise<UseResult>;
  /**
   * What the target states about a credential it did not see issued (a user's broker issued it):
   * read with the credential itself or with this half's own client, never changing anything.
   * Undefined when the target states nothing about this kind of credential (an STS session).
   */
  inspect?(ctx: ScenarioContext<P, C>, credential: Credential): Promise<CredentialFacts | undefined>;
  /**
   * How the holder may try to stretch a credential it was handed, at this point of use (renew
   * itself, mint a child): tried for grants whose source cannot say it (a user's broker).
   */
  extensions?(ctx: ScenarioContext<P, C>, credential: Credential, grant: GrantRecord): ExtensionAttempt[];
  /**
   * How the privileged action is tried with a credential from another context: from `from`, a
   * source address of the machine jitc runs on (`127.0.0.2`), instead of the one the task runs
   * from. The engine asks for it when a scenario names the context its grant is bound to
   * (`context:`), tries every attempt inside the window from each drifted address and once from
   * the bound one, and judges them as `context-bound` (scenarios/drift.ts). A client that cannot
   * choose its source address goes through adapters/loopback-relay.ts. Absent: the point cannot
   * use a credential from elsewhere, and the check is "not evidenced on this target".
   */
  drifted?(ctx: ScenarioContext<P, C>, credential: Credential, from: string): DriftAttempt[];
  /** Remove what this half created. Returns what was removed. */
  teardown(ctx: ScenarioContext<P, C>): Promise<string[]>;
}

/**
 * One try of the privileged action from a given context. Its `denied` must be the target's own
 * refusal of that context (a pg_hba reject, Vault's permission denied for a bound CIDR), read as
 * narrowly as the adapter's probes.ts says; anything else is `unknown`.
 */
export interface DriftAttempt {
  /** "read the secret with the token", "log in and read the table". */
  name: string;
  /** The source address the attempt comes from. */
  context: string;
  attempt(): Promise<ProbeResult>;
}

/** A grant as its source issued it: the record, and the credential handed to the point of use. */
export interface Grant extends GrantRecord {
  credential: Credential;
}

/**
 * The broker half: issues a credential for a task and ends it — natively (a token TTL, STS, a
 * dynamic entry) or through the user's own broker. It never needs to know where its credential
 * is used: it reaches the point of use only through {@link GrantContext.pointOfUse}.
 */
export interface GrantSource<P = unknown, C = unknown> extends Half<P> {
  /** Credential types it issues. */
  issues: readonly CredentialType[];
  /**
   * The credential types these params make it issue, when that depends on them (a broker told what
   * it hands out): checked against the point of use at load. Empty: it hands on the requester's own.
   */
  issuedFor?(params: P): readonly CredentialType[];
  /** Terms of the point of use's {@link Resource} it grants by. */
  needs: readonly string[];
  /** Create what the broker needs for this resource (role, policy, group). Named with ctx.prefix. */
  setup(ctx: GrantContext<P, C>): Promise<void>;
  /** What this source issued for the task on its own system (keys, sessions, tokens, bindings), for residue. */
  entitlements(ctx: GrantContext<P, C>): Promise<string[]>;
  /**
   * Standing privilege by the grant path itself: can the requester obtain the privilege without
   * the broker (assume the role, mint a key)? Absent: the path has no self-service to try.
   */
  probeStanding?(ctx: GrantContext<P, C>): Promise<ProbeResult>;
  /** The broker grants. Secret values go through {@link bornCredential}, never into the record. */
  request(ctx: GrantContext<P, C>): Promise<Grant>;
  /**
   * Its grants carry a broker's own claims ({@link GrantRecord.claims}): the engine compares them
   * with what the target does ({@link BROKER_CHECKS}).
   */
  brokered?: boolean;
  /** What the task does at the issuer with its credential once it worked (mint a child); may add handles. */
  afterUse?(ctx: GrantContext<P, C>, grant: Grant): Promise<void>;
  /**
   * End the grant as the scenario says. `expire` usually does nothing: the target must do it. May
   * add to grant.handles what only the end mode makes meaningful (a credential that must expire).
   */
  end(ctx: GrantContext<P, C>, grant: Grant, mode: EndMode): Promise<void>;
  /** Remove what this half created. Returns what was removed. */
  teardown(ctx: GrantContext<P, C>): Promise<string[]>;
}

/** A grant source and a point of use of one adapter that scenario files name together as `mechanism`. */
export interface NativePair {
  source: string;
  pointOfUse: string;
}

/** The organisation's bounds `jitc discover` judges configuration by (config `policy:`). */
export interface DiscoveryPolicy {
  /** Longest approval window the organisation allows, seconds. */
  maxWindowSeconds: number;
  /** Longest a generated expire-mode scenario may wait, seconds; longer roles get revoke mode only. */
  maxWaitSeconds: number;
}

/** What discovery found on one target: a scenario per existing object, and what fails without waiting. */
export interface Discovery {
  /** Scenario files to write, as plain data the scenario loader accepts; `id` names the file. */
  scenarios: { id: string; scenario: Record<string, unknown>; optIn?: boolean }[];
  findings: StaticFinding[];
  /** What the user should know about the reading: where it could not see, what it left to fill in. */
  notes?: string[];
}

/** What discovery writes where it cannot know a value (a secret path, a requester): a scenario holding it must not load. */
export const CHANGE_ME = 'CHANGE-ME';

/** A configuration finding that needs no wait: a role whose max TTL exceeds the bound, a role anyone may assume. */
export interface StaticFinding {
  /** The object, in the target's own terms: "token role ci-deploy", "role arn:aws:iam::…:role/x". */
  object: string;
  /** A catalogue check id. */
  check: string;
  verdict: 'fail' | 'pass';
  detail: string;
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
   * The halves it offers, by name. Each parses its own params, so the records erase P: the engine
   * only ever passes a half the value its own schema produced.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- existential over P, see above
  grantSources: Record<string, GrantSource<any, C>>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- existential over P, see above
  pointsOfUse: Record<string, PointOfUse<any, C>>;
  /** Native pairs by the name scenario files give as `mechanism:` (today's built-in scenarios). */
  pairs: Record<string, NativePair>;
  /**
   * Everything on the target carrying the run id, read from the target itself and worded as
   * `cleanup` words its removals; deliberately wider than cleanup's own matching, so a sweep that
   * misses something shows when one is held against the other.
   */
  leftovers(client: C, runId: string): Promise<string[]>;
  /**
   * A built-in scenario that waits for its grant to expire, and the params key holding the grant's
   * lifetime: stretched, it keeps a run waiting long enough to be interrupted on purpose. Every
   * adapter with a point of use names one.
   */
  longWait?: { scenario: string; ttlParam: string };
  /**
   * The target's connection in its ecosystem's usual environment variables (VAULT_ADDR and
   * VAULT_TOKEN, AWS_ENDPOINT_URL and the AWS keys, LDAP_URL…), for a broker hook the scenario
   * allows to act on the target jitc brought up (the embedded local targets).
   */
  hookEnvironment?(connection: TargetConnection): Record<string, string>;
  /**
   * Whether the target holds the object `ref` names, in the target's own reference form (an API
   * path, an ARN, a DN, a role name): one read by the admin client, never a listing and never a
   * change. Asked for the objects a user's broker says it made for a task, after the task ended
   * (adapters/broker/made.ts). Absent: such objects cannot be looked up, and are `unknown`.
   */
  lookUp?(client: C, ref: string): Promise<LookUpResult>;
  /**
   * Read the target's own configuration (roles, their TTLs and trust) and propose a scenario for
   * each object plus static findings, without changing anything (`jitc discover`).
   */
  discover?(client: C, policy: DiscoveryPolicy): Promise<Discovery>;
  /** Remove everything carrying the run id (or any jitc run id when runId is undefined). */
  cleanup(client: C, runId: string | undefined): Promise<CleanupReport>;
}

/**
 * A named entry of an adapter's record (a grant source, a point of use, a pair). Own properties
 * only: a scenario file naming "valueOf" or "constructor" must not reach Object.prototype.
 */
export function ownEntry<T>(record: Record<string, T>, name: string): T | undefined {
  return Object.hasOwn(record, name) ? record[name] : undefined;
}

/**
 * The prefix everything a run creates carries (`jitc-<runId>-`), or that of any jitc run without a
 * run id: the one spelling cleanup sweeps, leftovers listings and scenario names share.
 */
export function runPrefix(runId?: string): string {
  return runId ? `jitc-${runId}-` : 'jitc-';
}

/** The checks the engine itself produces for every scenario (privilege-width only with limits). */
export const LIFECYCLE_CHECKS = ['zero-standing-privilege', 'ttl-bounded', 'grant-usable', 'no-residue', 'lifecycle-completed'] as const;
