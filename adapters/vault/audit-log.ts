/**
 * OpenBao's (and Vault's) own audit trail, read from a file audit device's log: one JSON object
 * per line, a `request` and a `response` record per call. Two uses:
 *
 * - **lineage**: which tokens a scenario's credentials led to (children, logins, tokens issued
 *   carrying the resource's read policy), so residue is read from what the grant can reach and
 *   never by listing every token on the target;
 * - **the `audit-trail` check**: the grant's token has an issue record, a use record on the
 *   secret's path and a record of its end, each a separate line of the target's own log.
 * - **an ssh engine's certificate**: the response of the signing role's path that carried its
 *   serial (grants/ssh-certificate-trail.ts); a certificate's use and end are the sshd's to log.
 *
 * The log is read from the byte offset noted when the scenario set up, and only what was
 * appended since: a long-lived log is never read again per scenario. Tokens and request values are
 * HMACs in the log; the device's own HMAC of a value comes from `sys/audit-hash/<device>`, so the
 * comparison never needs the device's salt. Accessors are HMACs too unless the device is declared
 * with `hmac_accessor = false` (the local target is): with HMAC'd accessors a token found through
 * lineage cannot be looked up, and the evidence says so. See docs/architecture.md.
 */
import { linesSince, logEnd } from '../log-lines.ts';
import type { TargetConnection } from '../contract.ts';
import type { VaultApi } from './api.ts';

/** The connection settings naming the trail: the log file this machine reads, and the device that writes it. */
export const AUDIT_LOG_SETTING = 'auditLog';
export const AUDIT_DEVICE_SETTING = 'auditDevice';

/** Where a target's trail is read: the log on this machine, and the device path whose HMACs it holds. */
export interface AuditTrail {
  log: string;
  device: string;
}

export function auditTrailOf(connection: TargetConnection): AuditTrail | undefined {
  const log = connection.settings[AUDIT_LOG_SETTING];
  const device = connection.settings[AUDIT_DEVICE_SETTING];
  return log && device ? { log, device } : undefined;
}

/** One record of the log, reduced to what correlation needs: no request or response body beyond the ids below. */
export interface AuditEntry {
  /** Byte offset of the line in the log: order, without trusting either clock. */
  at: number;
  /** The request's id, shared by its request and response records. */
  id: string;
  time: string;
  type: 'request' | 'response';
  path: string;
  operation: string;
  /** The calling token's accessor (HMAC'd unless hmac_accessor is off); '' when the call carried no valid token. */
  accessor: string;
  /** HMAC of the calling token, as the request states it. */
  clientToken: string;
  /** A response that issued a token: its accessor, policies and TTL. */
  issued?: { accessor: string; tokenHash: string; policies: string[]; ttlSeconds: number | null };
  /** On a revoke path: the accessor or token the request names (HMACs, as request values always are). */
  names?: { accessor?: string; token?: string };
  /** A response that signed a certificate (an ssh engine's issue or sign): its serial_number as the log writes it (an HMAC). */
  signedSerial?: string;
  error: string;
}

/** The fields attached as evidence: all HMACs or public ids already, and never a body. */
export function evidenceOf(entry: AuditEntry): Record<string, string> {
  const shown: Record<string, string> = { time: entry.time, type: entry.type, path: entry.path, operation: entry.operation, accessor: entry.accessor };
  if (entry.issued) shown.issuedAccessor = entry.issued.accessor;
  if (entry.names?.accessor) shown.revokedAccessor = entry.names.accessor;
  if (entry.signedSerial) shown.signedSerial = entry.signedSerial;
  if (entry.error) shown.error = entry.error;
  return shown;
}

const REVOKE_PATH = /^auth\/token\/revoke(-accessor|-self|-orphan)?$/;
/** Requests that may issue a token: kept so an issue is dated from its request (the token exists from then, not from the response). */
const ISSUING_PATH = /^(auth\/|sys\/wrapping\/unwrap$)/;

interface RawRecord {
  time?: string;
  type?: string;
  error?: string;
  auth?: { accessor?: string; client_token?: string };
  request?: { id?: string; path?: string; operation?: string; client_token?: string; data?: Record<string, unknown> };
  response?: { auth?: { accessor?: string; client_token?: string; policies?: string[]; identity_policies?: string[]; token_ttl?: number }; data?: Record<string, unknown> };
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** A value as the device writes it when it HMACs it. */
export const HMACED = /^hmac-sha256:/;

/** A line worth keeping: a token issued (and requests that may issue one), a token revoked, or a call on a watched secret's path. Anything else is dropped at once. */
function reduce(raw: RawRecord, at: number, watched: (path: string) => boolean): AuditEntry | undefined {
  const type = raw.type === 'request' || raw.type === 'response' ? raw.type : undefined;
  const path = text(raw.request?.path);
  if (!type) return undefined;
  const issuedAuth = type === 'response' ? raw.response?.auth : undefined;
  const revoking = type === 'request' && REVOKE_PATH.test(path);
  const mayIssue = type === 'request' && ISSUING_PATH.test(path);
  if (!issuedAuth?.accessor && !issuedAuth?.client_token && !revoking && !mayIssue && !watched(path)) return undefined;
  const entry: AuditEntry = {
    at,
    id: text(raw.request?.id),
    time: text(raw.time),
    type,
    path,
    operation: text(raw.request?.operation),
    accessor: text(raw.auth?.accessor),
    clientToken: text(raw.request?.client_token) || text(raw.auth?.client_token),
    error: text(raw.error),
  };
  if (issuedAuth?.accessor || issuedAuth?.client_token) {
    entry.issued = {
      accessor: text(issuedAuth.accessor),
      tokenHash: text(issuedAuth.client_token),
      policies: [...(issuedAuth.policies ?? []), ...(issuedAuth.identity_policies ?? [])],
      ttlSeconds: typeof issuedAuth.token_ttl === 'number' ? issuedAuth.token_ttl : null,
    };
  }
  if (revoking) entry.names = { accessor: text(raw.request?.data?.accessor), token: text(raw.request?.data?.token) };
  const serial = type === 'response' ? text(raw.response?.data?.serial_number) : '';
  if (serial) entry.signedSerial = serial;
  return entry;
}

/** Kept entries in the order they were kept, each with its place in that order (to merge two such lists). */
class Kept {
  readonly entries: AuditEntry[] = [];
  readonly order: number[] = [];
}

/**
 * One log file as this process reads it, shared by every scenario reading it: each line is read and
 * parsed once, however many scenarios run at the same time, from the end the file had when the
 * first of them opened it. A line the device is still writing is left for the next read.
 *
 * Kept entries are filed where their readers look: token issues and revocations (every scenario's)
 * in one list, calls on a watched secret's path in that path's own list. A scenario reads the
 * first and its own path's, never the calls on the hundreds of other scenarios' paths. A path's
 * list goes once no scenario watches it; the shared list once no scenario watches any.
 */
class SharedLog {
  static readonly #open = new Map<string, SharedLog>();
  readonly #everyone = new Kept();
  /** How many of every scenario's entries were dropped: a cursor's index into them stays valid across drops. */
  #dropped = 0;
  /** Per watched secret path: how many scenarios watch it, and the calls on it. */
  readonly #paths = new Map<string, { watchers: number; kept: Kept }>();
  /** Entries kept so far, of either kind: each one's place in the log's order. */
  #keptSoFar = 0;
  /**
   * Requests that may issue a token (a login, a create), by request id, until their response
   * says whether one was issued. Only then is the request kept, beside its response: most calls
   * on auth paths (lookups, renewals) issue nothing, and hundreds of scenarios would otherwise each
   * keep every one of them.
   */
  readonly #mayIssue = new Map<string, AuditEntry>();
  #offset: number | undefined;
  /** Whether a kept entry named a token by an HMAC'd accessor: the device HMACs accessors (read once here, not per scenario). */
  accessorsHmaced = false;
  /** The watched paths a line can hold without holding "/data/" (a signing role's), for the cheap test before JSON.parse. */
  #watchedElsewhere: string[] = [];
  #reading: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;

  private constructor(readonly path: string) {}

  static of(path: string): SharedLog {
    let log = SharedLog.#open.get(path);
    if (!log) {
      log = new SharedLog(path);
      SharedLog.#open.set(path, log);
    }
    return log;
  }

  get offset(): number {
    return this.#offset ?? 0;
  }

  /** Where a reader of `secretPath` starts: the next entry of each of its two lists. */
  mark(secretPath: string): { everyone: number; own: number } {
    return { everyone: this.#dropped + this.#everyone.entries.length, own: this.#paths.get(secretPath)?.kept.entries.length ?? 0 };
  }

  /**
   * The entries a reader of `secretPath` has not taken since `from`, in the log's order: every
   * scenario's, and the calls on that path. Moves `from` past them.
   */
  take(secretPath: string, from: { everyone: number; own: number }, into: AuditEntry[]): void {
    const everyone = this.#everyone;
    const own = this.#paths.get(secretPath)?.kept;
    let e = Math.max(0, from.everyone - this.#dropped);
    let o = from.own;
    const ownLength = own?.entries.length ?? 0;
    while (e < everyone.entries.length || o < ownLength) {
      const takeOwn = own !== undefined && o < ownLength && (e >= everyone.entries.length || own.order[o]! < everyone.order[e]!);
      if (takeOwn) into.push(own.entries[o++]!);
      else into.push(everyone.entries[e++]!);
    }
    from.everyone = this.#dropped + e;
    from.own = o;
  }

  watch(secretPath: string): void {
    const watched = this.#paths.get(secretPath);
    if (watched) {
      watched.watchers += 1;
      return;
    }
    this.#paths.set(secretPath, { watchers: 1, kept: new Kept() });
    if (!secretPath.includes('/data/')) this.#watchedElsewhere = [...this.#watchedElsewhere, secretPath];
  }

  unwatch(secretPath: string): void {
    const watched = this.#paths.get(secretPath);
    if (watched && watched.watchers > 1) {
      watched.watchers -= 1;
      return;
    }
    this.#paths.delete(secretPath);
    this.#watchedElsewhere = this.#watchedElsewhere.filter((path) => path !== secretPath);
    if (this.#paths.size === 0) {
      this.#dropped += this.#everyone.entries.length;
      this.#everyone.entries.length = 0;
      this.#everyone.order.length = 0;
    }
  }

  /**
   * Read what was appended since the last read. Reads never overlap, and callers that arrive while
   * one runs share the single read queued after it: it starts after each of them asked.
   */
  catchUp(): Promise<void> {
    if (this.#queued) return this.#queued;
    const queued = this.#reading.then(() => {
      this.#queued = undefined;
      return this.#read();
    });
    this.#queued = queued;
    this.#reading = queued.catch(() => undefined);
    return queued;
  }

  async #read(): Promise<void> {
    if (this.#offset === undefined) {
      try {
        // The first reader starts at the end: what was logged before any scenario opened is not its business.
        this.#offset = await logEnd(this.path);
      } catch (error) {
        // Nothing audited yet: the device creates its file with its first record, all of it after us.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        this.#offset = 0;
      }
      return;
    }
    const { lines, end } = await linesSince(this.path, this.#offset, 'the audit log');
    for (const line of lines) this.#take(line.text, line.at);
    this.#offset = end;
  }

  #take(line: string, at: number): void {
    // Cheap before JSON.parse: what is kept always names an auth path, unwrap, a KV v2 data path or a watched path (a signing role's).
    // Hundreds of scenarios watch KV paths at once; those all hold "/data/", so only the others are searched for.
    if (!line.includes('auth/') && !line.includes('sys/wrapping/unwrap') && !line.includes('/data/') && !this.#watchedElsewhere.some((path) => line.includes(path))) return;
    let raw: RawRecord;
    try {
      raw = JSON.parse(line) as RawRecord;
    } catch {
      // Not one of the device's JSON lines (a prefix, a partial write): nothing to correlate.
      return;
    }
    const entry = reduce(raw, at, (path) => this.#paths.has(path));
    const id = text(raw.request?.id);
    const request = raw.type === 'response' && id !== '' ? this.#mayIssue.get(id) : undefined;
    if (request) {
      this.#mayIssue.delete(id);
      if (entry?.issued) this.#keep(this.#everyone, request);
    }
    if (!entry) return;
    if (entry.issued !== undefined || entry.names !== undefined) {
      this.#keep(this.#everyone, entry);
      return;
    }
    const watched = this.#paths.get(entry.path);
    if (watched) this.#keep(watched.kept, entry);
    else if (entry.type === 'request' && ISSUING_PATH.test(entry.path) && entry.id !== '') this.#mayIssue.set(entry.id, entry);
  }

  #keep(list: Kept, entry: AuditEntry): void {
    if (!this.accessorsHmaced && (HMACED.test(entry.accessor) || HMACED.test(entry.issued?.accessor ?? ''))) this.accessorsHmaced = true;
    list.entries.push(entry);
    list.order.push(this.#keptSoFar++);
  }
}

/** One scenario's share of a log: what was appended after it opened, on its own secret's path and the token paths. */
export class AuditCursor {
  #closed = false;
  /** This scenario's entries so far, and where in the shared lists it has taken them up to. */
  readonly #kept: AuditEntry[] = [];
  readonly #seen: { everyone: number; own: number };

  private constructor(
    readonly trail: AuditTrail,
    private readonly log: SharedLog,
    private readonly secretPath: string,
  ) {
    this.#seen = log.mark(secretPath);
  }

  /** Start at the log's current end (a log not written yet starts empty). */
  static async open(trail: AuditTrail, secretPath: string): Promise<AuditCursor> {
    const log = SharedLog.of(trail.log);
    log.watch(secretPath);
    try {
      await log.catchUp();
    } catch (error) {
      log.unwatch(secretPath);
      throw error;
    }
    return new AuditCursor(trail, log, secretPath);
  }

  /** Where the log has been read up to: the byte offset an entry's `at` is compared with. */
  get offset(): number {
    return this.log.offset;
  }

  /** Token issues and revocations (everyone's), and the calls on this scenario's own secret path, in the log's order. */
  get entries(): readonly AuditEntry[] {
    // Kept and extended, not filtered again from the start: hundreds of scenarios read one log at once.
    if (!this.#closed) this.log.take(this.secretPath, this.#seen, this.#kept);
    return this.#kept;
  }

  /** Whether the log names tokens by HMAC'd accessors (the device is not declared with hmac_accessor = false), as far as it has been read. */
  get accessorsHmaced(): boolean {
    return this.log.accessorsHmaced;
  }

  /** Read what was appended since the last read. */
  read(): Promise<void> {
    return this.log.catchUp();
  }

  /** The scenario is done with the log: its entries may go once no scenario reads. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.log.unwatch(this.secretPath);
  }
}

/** The device's HMAC of a value (an accessor, a token), as its log would write it. */
export async function auditHash(api: VaultApi, device: string, input: string): Promise<string> {
  const answer = await api.call<{ data?: { hash?: string } }>('POST', `sys/audit-hash/${device}`, { input });
  const hash = answer.data?.hash;
  if (!hash) throw new Error(`sys/audit-hash/${device} answered without a hash`);
  return hash;
}

/** What lineage found in the log: accessors to look up, and tokens the log names only by an HMAC. */
export interface Lineage {
  accessors: string[];
  hmacOnly: string[];
}

/**
 * Tokens the known ones led to: those issued by a call made with a known token (a child, an orphan,
 * a token minted by its holder), transitively, and every token issued since the scenario set up
 * that carries `policy` (a login, an unwrapped token) — whoever asked for it. `known` holds the
 * accessors and, where the log HMACs accessors, their HMACs.
 */
export function lineageOf(entries: readonly AuditEntry[], known: ReadonlySet<string>, policy: string): Lineage {
  const reached = new Set(known);
  const found = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const e of entries) {
      if (!e.issued || e.issued.accessor === '' || reached.has(e.issued.accessor)) continue;
      const fromKnown = e.accessor !== '' && reached.has(e.accessor);
      const carriesPolicy = policy !== '' && e.issued.policies.includes(policy);
      if (fromKnown || carriesPolicy) {
        reached.add(e.issued.accessor);
        found.add(e.issued.accessor);
        grew = true;
      }
    }
  }
  const all = [...found];
  return { accessors: all.filter((a) => !HMACED.test(a)), hmacOnly: all.filter((a) => HMACED.test(a)) };
}

/** The three records of one token's life, as found (or not) in the log. */
export interface TokenTrail {
  issue?: AuditEntry;
  use?: AuditEntry;
  /** A revoke request naming the token, or its own revoke-self. */
  revocation?: AuditEntry;
  /** Without a revocation: the first refusal of the token at or after its stated expiry (an expiry writes no record). */
  expiry?: { refusal: AuditEntry; expiresAt: string };
  /** A refusal before the stated expiry with nothing recording why: what makes a missing revocation certain. */
  earlyRefusal?: AuditEntry;
}

/**
 * Find the token's records. `ids` are the forms the log may name the token's accessor in (clear and
 * HMAC), `tokenIds` those of the token itself (its HMAC, and the token for a device that logs raw); `endBy` bounds where a revocation may sit (the
 * offset read when residue was last measured: later revocations are the harness's own teardown).
 */
export function trailOf(entries: readonly AuditEntry[], ids: ReadonlySet<string>, tokenIds: ReadonlySet<string>, secretPath: string, endBy: number): TokenTrail {
  // A batch token has no accessor: its own HMAC ties its records together instead.
  const mine = (accessor: string, token: string): boolean => (accessor !== '' && ids.has(accessor)) || (token !== '' && tokenIds.has(token));
  // One pass for every record looked for, each the first of its kind: with hundreds of scenarios at
  // once, every scenario's entries hold every other's token issues, and a pass per record was a
  // tenth of the harness's time at the end of a run.
  let issue: AuditEntry | undefined;
  let use: AuditEntry | undefined;
  let revocation: AuditEntry | undefined;
  let refusal: AuditEntry | undefined;
  for (const e of entries) {
    if (!issue && e.issued !== undefined && mine(e.issued.accessor, e.issued.tokenHash)) issue = e;
    if (e.type !== 'request') continue;
    if (e.path === secretPath) {
      if (!use && e.error === '' && mine(e.accessor, e.clientToken)) use = e;
      if (!refusal && e.error !== '' && tokenIds.has(e.clientToken)) refusal = e;
    }
    if (
      !revocation &&
      e.at < endBy &&
      e.error === '' &&
      ((e.path === 'auth/token/revoke-self' && mine(e.accessor, e.clientToken)) || (e.names !== undefined && mine(e.names.accessor ?? '', e.names.token ?? '')))
    ) {
      revocation = e;
    }
  }
  const trail: TokenTrail = { issue, use, revocation };
  if (revocation) return trail;
  const ttl = issue?.issued?.ttlSeconds;
  if (refusal && issue && ttl !== null && ttl !== undefined && ttl > 0) {
    // Counted from the issuing request: the token may be created well before its response is written.
    // Vault keeps a token's creation time in whole seconds and expires it from there, so its TTL
    // may end up to a second before the request's own time plus the TTL.
    const requested = entries.find((e) => e.type === 'request' && e.id !== '' && e.id === issue.id) ?? issue;
    const expiresAt = new Date(Math.floor(Date.parse(requested.time) / 1000) * 1000 + ttl * 1000).toISOString();
    if (Date.parse(refusal.time) >= Date.parse(expiresAt)) trail.expiry = { refusal, expiresAt };
    else trail.earlyRefusal = refusal;
  } else if (refusal) {
    trail.earlyRefusal = refusal;
  }
  return trail;
}
