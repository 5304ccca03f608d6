/**
 * The `audit-trail` check at the `resource-server` point of use: Keycloak's own record of the
 * grant, its realm events (user events) and admin events, read through the admin API
 * (`GET /admin/realms/<realm>/events`, `/admin-events`), matched by what the point saw of the
 * token it was handed for the task — its id (`jti`, Keycloak's `token_id`), subject, session and
 * expiry, never the token itself:
 *
 * - **issue**: the event that minted the token, by its `token_id` — `LOGIN` (a password login:
 *   `user-session`, `break-glass`), `CLIENT_LOGIN` (`client-credentials`), `TOKEN_EXCHANGE` or
 *   `REFRESH_TOKEN`; and every role mapping made for the subject after the standing probe (the
 *   admin event `CREATE users/<sub>/role-mappings/…`: `break-glass`'s emergency role);
 * - **use**: the `INTROSPECT_TOKEN` of the token by the task's resource server. That is what every
 *   idp scenario's use triggers in Keycloak (measured: the introspection writes it at once, with
 *   the token's id, user and session); a resource server validating JWTs locally leaves nothing;
 * - **end**: a record that ended the token or its session — `REVOKE_GRANT` of the token (or of
 *   its session's refresh token), `LOGOUT` of its session, the admin events `ACTION
 *   users/<sub>/logout` (the admin logout writes no `LOGOUT` user event: measured),
 *   `DELETE sessions/<sid>` or `DELETE users/<sub>`; for each role mapping, its `DELETE`. A grant
 *   that ended by expiry writes no record of its own: what stands for the end is Keycloak's refusal
 *   of the same token at introspection (`INTROSPECT_TOKEN_ERROR`) at or after its `exp`. A refusal
 *   before `exp` does not stand for it: it follows an end whose record is missing.
 *
 * An end counts only before the residue was last read (the point's entitlements): what teardown
 * removes afterwards is cleaning up, not the grant ending. Events are visible to the admin API as
 * soon as the call that wrote them has answered (measured on the local Keycloak 26, which stores
 * them in its database); a store that is slower to show them is read again for up to
 * {@link SETTLE_MS} before a missing record fails.
 *
 * Realms jitc creates enable user events (every type) and admin events with details at creation.
 * A realm of the user's own (`existing:`) is never changed: its `events/config` is read at setup,
 * and events off, admin events off or a needed type not enabled declare the check not evidenced on
 * this target, naming the setting; so does an admin credential without `view-events`. Events that
 * cannot be read at judgement are `inconclusive`.
 */
import { sleep } from '../../scenarios/wait.ts';
import { IdpAnswerError, type IdpClient } from './client.ts';
import type { IdpContext } from './fixtures.ts';
import { claimsOf } from './jwt.ts';

/** A user event as the admin API lists it. */
export interface RealmEvent {
  time: number;
  type: string;
  clientId?: string;
  userId?: string;
  sessionId?: string;
  error?: string;
  details?: Record<string, string>;
}

/** An admin event as the admin API lists it. */
export interface AdminEvent {
  time: number;
  operationType: string;
  resourceType?: string;
  resourcePath?: string;
}

/** The user event types a judgement reads: an existing realm must keep each enabled. */
export const NEEDED_TYPES = ['LOGIN', 'CLIENT_LOGIN', 'TOKEN_EXCHANGE', 'REFRESH_TOKEN', 'INTROSPECT_TOKEN', 'INTROSPECT_TOKEN_ERROR', 'REVOKE_GRANT', 'LOGOUT'] as const;
const ISSUERS = new Set(['LOGIN', 'CLIENT_LOGIN', 'TOKEN_EXCHANGE', 'REFRESH_TOKEN']);
/** How long missing records are looked for again: none was late on the local target. */
const SETTLE_MS = 3000;
const PAGE = 500;
const CLOCK_SLACK_MS = 5000;
const MAX_PAGES = 20;

const KEY = {
  declared: 'auditDeclared',
  since: 'auditSince',
  grantFrom: 'auditGrantFrom',
  token: 'auditToken',
  residueRead: 'auditResidueReadAt',
} as const;

/** What the point saw of the task's token: ids and times, never the token. */
export interface TokenFacts {
  jti: string;
  sub: string;
  sid?: string;
  /** The token's exp (ms). */
  exp?: number;
}

export interface GrantFacts {
  token: TokenFacts;
  resourceServer: string;
  /** When the grant phase began (ms): role mappings made since are the grant's. */
  grantFrom?: number;
  /** When the residue was last read (ms): an end must come before. */
  residueReadAt: number;
}

export interface Found {
  name: string;
  time: number;
  event: string;
}

export interface Judged {
  found: Found[];
  missing: string[];
}

/** The realm's event settings a broken setup may narrow (twins and mutants). */
export interface EventSettings {
  /** User event types left out of enabledEventTypes. */
  omit: readonly string[];
  adminEvents: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const ok = (e: RealmEvent): boolean => !e.type.endsWith('_ERROR') && !e.error;
const tokenId = (e: RealmEvent): string | undefined => e.details?.token_id;

/** Every user event type this Keycloak knows (server info), for a realm that records all of them. */
async function allEventTypes(client: IdpClient): Promise<string[]> {
  const fallback = [...NEEDED_TYPES, 'LOGIN_ERROR', 'CLIENT_LOGIN_ERROR', 'REFRESH_TOKEN_ERROR', 'REVOKE_GRANT_ERROR', 'LOGOUT_ERROR', 'TOKEN_EXCHANGE_ERROR'];
  try {
    // /admin/serverinfo sits beside /admin/realms: the URL's dot segment is resolved before it is sent.
    const info = await client.admin.call<{ enums?: { eventType?: string[] } }>('GET', '/../serverinfo');
    return info.enums?.eventType ?? fallback;
  } catch (error) {
    // A credential that may make realms but not read server info: the types the judgement reads, and their errors.
    if (error instanceof IdpAnswerError && error.status === 403) return fallback;
    throw error;
  }
}

/** At creation of a realm of jitc's own: record every user event and every admin event with its details. */
export async function enableRealmEvents(ctx: IdpContext<unknown>, realm: string, settings: EventSettings): Promise<void> {
  const types = (await allEventTypes(ctx.client)).filter((t) => !settings.omit.includes(t));
  await ctx.client.admin.call('PUT', `/${encodeURIComponent(realm)}/events/config`, { eventsEnabled: true, enabledEventTypes: types, adminEventsEnabled: settings.adminEvents, adminEventsDetailsEnabled: settings.adminEvents });
  ctx.state.set(KEY.since, Date.now());
  ctx.evidence.record(`realm ${realm} records its user events and admin events, read for the audit trail`, { eventTypes: types.length });
  if (settings.omit.length > 0) ctx.evidence.record(`broken setup: the realm does not record ${settings.omit.join(', ')} events`, { omitted: [...settings.omit] });
  if (!settings.adminEvents) ctx.evidence.record('broken setup: the realm does not record admin events');
}

function notEvidenced(ctx: IdpContext<unknown>, why: string): void {
  // The marker the reports show per control as a gap (reports/writers/summary.ts).
  ctx.evidence.record(`audit-trail not evidenced on this target: ${why}`, { notEvidenced: 'audit-trail' });
  ctx.state.set(KEY.declared, true);
}

interface EventsConfig {
  eventsEnabled?: boolean;
  enabledEventTypes?: string[];
  adminEventsEnabled?: boolean;
}

/** What is wrong with a realm's event settings for the judgement, or nothing. */
export function settingsGap(realm: string, config: EventsConfig): string | undefined {
  if (!config.eventsEnabled) return `realm ${realm} does not save its user events (events/config eventsEnabled is off), so Keycloak keeps no record of the grant's issue, use or end`;
  const enabled = new Set(config.enabledEventTypes ?? []);
  const off = NEEDED_TYPES.filter((t) => !enabled.has(t));
  if (off.length > 0) return `realm ${realm} does not save the user event types ${off.join(', ')} (events/config enabledEventTypes)`;
  if (!config.adminEventsEnabled) return `realm ${realm} does not save admin events (events/config adminEventsEnabled), where an admin logout or role unmapping is recorded`;
  return undefined;
}

/** At setup in a realm of the user's own: its event settings are read, never changed. */
export async function readRealmEventSettings(ctx: IdpContext<unknown>, realm: string): Promise<void> {
  let config: EventsConfig;
  try {
    config = await ctx.client.admin.call<EventsConfig>('GET', `/${encodeURIComponent(realm)}/events/config`);
  } catch (error) {
    if (error instanceof IdpAnswerError && error.status === 403) {
      notEvidenced(ctx, `the admin credential may not read realm ${realm}'s events (it lacks the realm-management role view-events)`);
      return;
    }
    notEvidenced(ctx, `realm ${realm}'s event settings could not be read: ${(error as Error).message}`);
    return;
  }
  const gap = settingsGap(realm, config);
  if (gap) {
    notEvidenced(ctx, `${gap}; jitc never changes a realm's event settings`);
    return;
  }
  ctx.state.set(KEY.since, Date.now());
  ctx.evidence.record(`realm ${realm} saves the user events and admin events the audit trail is read from`, { eventTypes: NEEDED_TYPES.join(', ') });
}

/** The standing probe is about to run: role mappings made from now on are the grant's. */
export function markGrantPhase(ctx: IdpContext<unknown>): void {
  if (!ctx.state.has(KEY.grantFrom)) ctx.state.set(KEY.grantFrom, Date.now());
}

/** The first token the resource server accepted for the task. */
export function rememberUsed(ctx: IdpContext<unknown>, token: string): void {
  if (ctx.state.has(KEY.token)) return;
  let claims: ReturnType<typeof claimsOf>;
  try {
    claims = claimsOf(token);
  } catch {
    return; // Not a JWT: nothing to match records with; the judgement says so.
  }
  const facts: TokenFacts = { jti: String(claims.jti ?? ''), sub: String(claims.sub ?? ''), ...(typeof claims.sid === 'string' ? { sid: claims.sid } : {}), ...(claims.exp === undefined ? {} : { exp: claims.exp * 1000 }) };
  ctx.state.set(KEY.token, facts);
}

/** The residue is being read: an end must be in the trail before this moment. */
export function markResidueRead(ctx: IdpContext<unknown>): void {
  if (ctx.state.has(KEY.token)) ctx.state.set(KEY.residueRead, Date.now());
}

/** The grant's records in what was read, and what is missing. */
export function judgeEvents(events: readonly RealmEvent[], admin: readonly AdminEvent[], facts: GrantFacts): Judged {
  const found: Found[] = [];
  const missing: string[] = [];
  const { jti, sub, sid, exp } = facts.token;
  const before = (t: number): boolean => t <= facts.residueReadAt;
  const byTime = <T extends { time: number }>(list: readonly T[]): T[] => [...list].sort((a, b) => a.time - b.time);
  const user = byTime(events);
  const adminByTime = byTime(admin);

  const issue = user.find((e) => ok(e) && ISSUERS.has(e.type) && tokenId(e) === jti);
  if (issue) found.push({ name: `issue: ${issue.type} of token ${jti}${issue.clientId ? ` by client ${issue.clientId}` : ''}`, time: issue.time, event: issue.type });
  else missing.push(`issue (no LOGIN, CLIENT_LOGIN, TOKEN_EXCHANGE or REFRESH_TOKEN event minting token ${jti})`);

  const mappingPath = `users/${sub}/role-mappings`;
  const mappings = facts.grantFrom === undefined ? [] : adminByTime.filter((e) => e.operationType === 'CREATE' && (e.resourcePath ?? '').startsWith(mappingPath) && e.time >= facts.grantFrom!);
  for (const m of mappings) found.push({ name: `issue: admin event CREATE ${m.resourcePath ?? ''} (a role mapped for the grant)`, time: m.time, event: 'CREATE' });

  const use = user.find((e) => ok(e) && e.type === 'INTROSPECT_TOKEN' && tokenId(e) === jti && e.clientId === facts.resourceServer);
  if (use) found.push({ name: `use: INTROSPECT_TOKEN of token ${jti} by ${facts.resourceServer}`, time: use.time, event: use.type });
  else missing.push(`use (no INTROSPECT_TOKEN of token ${jti} by ${facts.resourceServer})`);

  const from = issue?.time ?? 0;
  const inEnd = (t: number): boolean => t >= from && before(t);
  const userEnd = user.find(
    (e) => ok(e) && inEnd(e.time) && ((e.type === 'REVOKE_GRANT' && (tokenId(e) === jti || (sid !== undefined && e.sessionId === sid))) || (e.type === 'LOGOUT' && sid !== undefined && e.sessionId === sid)),
  );
  const adminEnds = new Set([`users/${sub}/logout`, `users/${sub}`, ...(sid ? [`sessions/${sid}`] : [])]);
  const adminEnd = adminByTime.find((e) => inEnd(e.time) && adminEnds.has(e.resourcePath ?? '') && (e.operationType === 'DELETE' || (e.operationType === 'ACTION' && e.resourcePath === `users/${sub}/logout`)));
  const refused = exp === undefined ? undefined : user.find((e) => e.type === 'INTROSPECT_TOKEN_ERROR' && tokenId(e) === jti && e.time >= exp && before(e.time));
  const residue = iso(facts.residueReadAt);
  if (userEnd) found.push({ name: `end: ${userEnd.type} of ${tokenId(userEnd) === jti ? `token ${jti}` : `session ${sid ?? ''}`}`, time: userEnd.time, event: userEnd.type });
  else if (adminEnd) found.push({ name: `end: admin event ${adminEnd.operationType} ${adminEnd.resourcePath ?? ''}`, time: adminEnd.time, event: adminEnd.operationType });
  else if (refused) found.push({ name: `end by expiry: INTROSPECT_TOKEN_ERROR of token ${jti} (${refused.error ?? 'refused'}) after its exp ${iso(exp!)}; Keycloak writes no record of an expiry`, time: refused.time, event: refused.type });
  else {
    missing.push(
      `end (no REVOKE_GRANT or LOGOUT of token ${jti} or its session, no admin logout of user ${sub}${sid ? ` or deletion of session ${sid}` : ''} before the residue was read at ${residue}, and no refusal of the token at introspection after its exp${exp === undefined ? '' : ` ${iso(exp)}`})`,
    );
  }
  for (const m of mappings) {
    const undone = adminByTime.find((e) => e.operationType === 'DELETE' && e.resourcePath === m.resourcePath && e.time >= m.time && before(e.time));
    if (undone) found.push({ name: `end: admin event DELETE ${undone.resourcePath ?? ''} (the role mapping removed)`, time: undone.time, event: 'DELETE' });
    else missing.push(`end of the role mapping ${m.resourcePath ?? ''} (no admin event DELETE of it before the residue was read at ${residue})`);
  }
  return { found, missing };
}

/** Every page of one listing since `since`. */
async function listAll<T>(client: IdpClient, path: string): Promise<T[]> {
  const all: T[] = [];
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const got = await client.admin.call<T[]>('GET', `${path}&first=${page * PAGE}&max=${PAGE}`);
    all.push(...got);
    if (got.length < PAGE) return all;
  }
  throw new Error(`${path.split('?')[0]} holds more than ${PAGE * MAX_PAGES} matching events since setup; not all were read`);
}

/** The events that can be the grant's: by its subject, its resource server's introspections, and admin events on the subject and its session. */
async function readEvents(client: IdpClient, realm: string, facts: GrantFacts, since: number): Promise<{ events: RealmEvent[]; admin: AdminEvent[] }> {
  const r = `/${encodeURIComponent(realm)}`;
  const q = (params: Record<string, string | string[]>): string => {
    // Event times are the server's clock, `since` this machine's: a few seconds' slack keeps a skewed server's records in; only the grant's are matched.
    const search = new URLSearchParams({ dateFrom: String(since - CLOCK_SLACK_MS) });
    for (const [key, value] of Object.entries(params)) for (const v of [value].flat()) search.append(key, v);
    return search.toString();
  };
  const { sub, sid } = facts.token;
  // Keycloak leaves the user off an error event of a token it no longer knows: introspections are read by client instead.
  const [bySubject, introspections, onSubject, onSession] = await Promise.all([
    listAll<RealmEvent>(client, `${r}/events?${q({ user: sub, type: ['LOGIN', 'CLIENT_LOGIN', 'TOKEN_EXCHANGE', 'REFRESH_TOKEN', 'REVOKE_GRANT', 'LOGOUT'] })}`),
    listAll<RealmEvent>(client, `${r}/events?${q({ client: facts.resourceServer, type: ['INTROSPECT_TOKEN', 'INTROSPECT_TOKEN_ERROR'] })}`),
    listAll<AdminEvent>(client, `${r}/admin-events?${q({ resourcePath: `users/${sub}*` })}`),
    sid ? listAll<AdminEvent>(client, `${r}/admin-events?${q({ resourcePath: `sessions/${sid}` })}`) : Promise.resolve([]),
  ]);
  return { events: [...bySubject, ...introspections], admin: [...onSubject, ...onSession] };
}

/** Judge the grant's trail, at teardown and before the realm is deleted. */
export async function judgeRealmEvents(ctx: IdpContext<unknown>, realm: string, resourceServer: string): Promise<void> {
  if (ctx.state.get(KEY.declared) === true) return;
  const since = ctx.state.get(KEY.since) as number | undefined;
  if (since === undefined) return; // setup stopped before the realm's events were set up or read
  const token = ctx.state.get(KEY.token) as TokenFacts | undefined;
  const residueReadAt = ctx.state.get(KEY.residueRead) as number | undefined;
  if (!token) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: "no token was accepted by the resource server for the task, so the grant's records were not looked for" });
    return;
  }
  if (!token.jti || !token.sub) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: "the task's token names no id (jti) or subject to find its records by" });
    return;
  }
  if (residueReadAt === undefined) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: 'the lifecycle stopped before the residue was read, so the end of the grant was not looked for' });
    return;
  }
  const grantFrom = ctx.state.get(KEY.grantFrom) as number | undefined;
  const facts: GrantFacts = { token, resourceServer, residueReadAt, ...(grantFrom === undefined ? {} : { grantFrom }) };
  const started = Date.now();
  let judged: Judged;
  let reads = 0;
  let counts = { events: 0, admin: 0 };
  for (;;) {
    try {
      const read = await readEvents(ctx.client, realm, facts, since);
      reads += 1;
      counts = { events: read.events.length, admin: read.admin.length };
      judged = judgeEvents(read.events, read.admin, facts);
    } catch (error) {
      const why = error instanceof IdpAnswerError && error.status === 403 ? `the admin credential may not read them (it lacks view-events): ${error.message}` : (error as Error).message;
      ctx.evidence.record(`realm ${realm}'s events could not be read: ${why}`, { realm, reads });
      ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `realm ${realm}'s events could not be read: ${why}` });
      return;
    }
    if (judged.missing.length === 0 || Date.now() - started >= SETTLE_MS || ctx.signal.aborted) break;
    try {
      await sleep(500, ctx.signal);
    } catch {
      break; // interrupted: judged from what was read
    }
  }
  const waited = `${reads} read(s) over ${((Date.now() - started) / 1000).toFixed(1)} s, ${counts.events} user event(s) and ${counts.admin} admin event(s) since setup`;
  ctx.evidence.record(`Keycloak's events of the task's token ${token.jti} in realm ${realm}, ${waited}`, {
    realm,
    jti: token.jti,
    subject: token.sub,
    session: token.sid ?? null,
    residueReadAt: iso(residueReadAt),
    found: judged.found.map((f) => ({ record: f.name, event: f.event, time: iso(f.time) })),
    missing: judged.missing,
  });
  const described = judged.found.map((f) => `${f.name} at ${iso(f.time)}`).join('; ');
  if (judged.missing.length === 0) ctx.report({ check: 'audit-trail', verdict: 'pass', detail: `realm ${realm}'s events record ${described} (${waited})` });
  else ctx.report({ check: 'audit-trail', verdict: 'fail', detail: `missing from realm ${realm}'s events (${waited}): ${judged.missing.join('; ')}${described ? `; found ${described}` : ''}` });
}
