/**
 * `break-glass`: the identity provider's emergency path, kept apart from the routine one. The path
 * is a client of its own (`break-glass-app`, a password grant) whose direct-grant flow Keycloak
 * runs for every login through it (flows.ts): a user without the break-glass operator role meets
 * "Deny access", and, with `maxOpen`, a user already holding that many sessions on the client meets
 * the "User Session Count Limiter". The break-glass identity holds the operator role and nothing
 * else: outside an emergency it can log in through the path, but its tokens name no resource
 * server, so the resource server's introspection answers inactive (`zero-standing-privilege`).
 *
 * An emergency grant is a role mapping the broker adds for the window — the resource server's
 * client role `emergency`, which Keycloak's audience resolution turns into the resource server's
 * audience — and the session the break-glass identity then opens through the path: its access
 * token lives `ttlSeconds`, its session (the realm's SSO session and the client's) `sessionSeconds`,
 * both the emergency window unless set. The session and its tokens must end at that bound by
 * themselves (introspection inactive, the refresh refused); the broker removes the role mapping
 * when the window ends (or at a revoke end, with the session).
 *
 * Beside the lifecycle the engine runs on every grant:
 * - the routine JIT identity logs in through the path: only Keycloak's own refusal passes
 *   (`break-glass-isolated`; what counts is in probes.ts, `readPathLogin`);
 * - after the first use a second emergency session is asked for while the first is open and
 *   recorded as such; with `maxOpen` the path must refuse it (`break-glass-one-open`), which the
 *   session limiter does where the flow has it.
 *
 * With `existing:` the path is the user's own: its client, the emergency role and the two
 * identities (their passwords from the variables named) are read before and after and never
 * changed; jitc adds only the emergency role mapping for the window and removes it, and ends the
 * sessions it opened. Every grant the scenario obtains is an emergency use of that path: the
 * scenario is opt-in in scheduled runs (README, "Break-glass").
 */
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { askWhileOpen, type FurtherGrants, reportIsolation } from '../../break-glass.ts';
import { bornCredential, type Grant, type GrantContext, type GrantSource, type ProbeResult } from '../../contract.ts';
import { confirmUnchanged, useExisting } from '../../existing-objects.ts';
import { envName } from '../../param-fields.ts';
import { isNotFound, type IdpClient } from '../client.ts';
import { registerTokens, sessionExtensions } from '../extension.ts';
import { createClient, createTaskUser, existingClient, findClient, secretFromEnv, withoutOfflineScope } from '../fixtures.ts';
import { createPathFlow } from '../flows.ts';
import { audiences, claimsOf, grantTimes } from '../jwt.ts';
import { readPathLogin, refresh, tokenRequest } from '../probes.ts';
import { TERMS, term } from '../terms.ts';

/** What Keycloak says when no message is configured: the refusals of a path of the user's own. */
const KEYCLOAK_DENY = 'Access denied';
const KEYCLOAK_LIMIT = 'There are too many sessions';
/** What the flows jitc makes say, so a refusal is told from any other error page. */
const LOCAL_DENY = 'Only break-glass operators may log in through this client';
const LOCAL_LIMIT = 'An emergency session is already open';

const params = z
  .strictObject({
    /** The user's own path: nothing but the emergency role mapping and the sessions is made, and both are ended. */
    existing: z
      .strictObject({
        /** The break-glass client (public, direct grant) whose flow keeps the path to its identities. */
        clientId: z.string().min(1),
        /** The role the broker maps to the break-glass identity for an emergency: a client role of `client`, or a realm role. */
        emergencyRole: z.strictObject({ client: z.string().min(1).optional(), name: z.string().min(1) }),
        identity: z.string().min(1),
        identityPasswordEnv: envName,
        /** Absent: the routine identity is not tried, and `break-glass-isolated` is inconclusive. */
        routine: z.string().min(1).optional(),
        routinePasswordEnv: envName.optional(),
        /** The messages the path's Deny access and session limiter answer with (Keycloak's defaults). */
        denyMessage: z.string().min(1).default(KEYCLOAK_DENY),
        limitMessage: z.string().min(1).default(KEYCLOAK_LIMIT),
      })
      .optional(),
    /** Access token lifespan on the break-glass client; absent: the emergency window. */
    ttlSeconds: seconds.optional(),
    /** The emergency session's lifespan (the realm's SSO session and the client's, max and idle); absent: the window; null (broken): the realm's ten minutes. */
    sessionSeconds: seconds.nullable().optional(),
    /** false (broken): the path's flow denies nobody, so any user of the realm logs in through it. */
    denyNonOperators: z.boolean().default(true),
    /** Broken setup: the routine JIT identity holds the break-glass operator role too. */
    routineMayUseBreakGlass: z.boolean().default(false),
    /** Emergency sessions the path may have open at once; absent: a second one is only recorded. */
    maxOpen: z.number().int().min(1).max(3).optional(),
    /** false (broken): the path's flow has no session limiter, whatever `maxOpen` says. */
    limitSessions: z.boolean().default(true),
  })
  .superRefine((p, issue) => {
    if (!p.existing) return;
    for (const key of ['ttlSeconds', 'sessionSeconds', 'denyNonOperators', 'routineMayUseBreakGlass', 'limitSessions'] as const) {
      const fixed = key === 'denyNonOperators' || key === 'limitSessions' ? p[key] !== true : key === 'routineMayUseBreakGlass' ? p[key] : p[key] !== undefined;
      if (fixed) issue.addIssue({ code: 'custom', path: [key], message: "not with existing: the path's client and flow are the user's own and are never changed" });
    }
    if (p.existing.routine && !p.existing.routinePasswordEnv) issue.addIssue({ code: 'custom', path: ['existing', 'routinePasswordEnv'], message: "required with existing.routine: the variable holding the routine JIT identity's password" });
  });
type Params = z.infer<typeof params>;
type Ctx = GrantContext<Params, IdpClient>;

const CLIENT = 'break-glass-app';
const OPERATOR = 'break-glass-operator';
const EMERGENCY_ROLE = 'emergency';
const IDENTITY = 'break-glass-user';
const ROUTINE = 'routine-user';

interface User {
  username: string;
  password: string;
  userId: string;
}

interface Path {
  realm: string;
  clientId: string;
  /** The emergency role as Keycloak represents it, and where its mappings live under a user. */
  role: { id: string; name: string };
  mappings: string;
  roleLabel: string;
  denyMessage: string;
  limitMessage: string;
  identity: User;
  routine?: User;
  /** Sessions of the identity jitc opened (sid), ended at once or at teardown. */
  sessions: string[];
}

function path(ctx: Ctx): Path {
  const p = ctx.state.get('path') as Path | undefined;
  if (!p) throw new Error('no break-glass path: setup did not run');
  return p;
}

const users = (realm: string): string => `/${encodeURIComponent(realm)}/users`;

async function userIdOf(ctx: Ctx, realm: string, username: string): Promise<string> {
  const found = await ctx.client.admin.call<{ id: string; username: string }[]>('GET', `${users(realm)}?username=${encodeURIComponent(username)}&exact=true`);
  const user = found.find((u) => u.username === username.toLowerCase());
  if (!user) throw new Error(`existing: realm ${realm} has no user ${username}`);
  return user.id;
}

async function mapRealmRole(ctx: Ctx, realm: string, userId: string, role: string): Promise<void> {
  const r = `/${encodeURIComponent(realm)}`;
  const representation = await ctx.client.admin.call<{ id: string; name: string }>('GET', `${r}/roles/${encodeURIComponent(role)}`);
  await ctx.client.admin.call('POST', `${r}/users/${userId}/role-mappings/realm`, [representation]);
}

/** The local path: the operator role, the emergency role, the flow, the client and the two identities. */
async function createLocalPath(ctx: Ctx): Promise<Path> {
  const p = ctx.params;
  const realm = term(ctx, TERMS.realm);
  const r = `/${encodeURIComponent(realm)}`;
  const api = ctx.client.admin;
  const session = p.sessionSeconds === undefined ? ctx.task.windowSeconds : p.sessionSeconds;
  const attributes: Record<string, string> = { 'access.token.lifespan': String(Math.round(p.ttlSeconds ?? ctx.task.windowSeconds)) };
  if (session !== null) {
    // The SSO session first: Keycloak bounds a client's session by its user session, and wants the realm's set before a client's below it.
    await api.call('PUT', r, { ssoSessionMaxLifespan: Math.round(session), ssoSessionIdleTimeout: Math.round(session) });
    attributes['client.session.max.lifespan'] = String(Math.round(session));
    attributes['client.session.idle.timeout'] = String(Math.round(session));
  }
  await api.call('POST', `${r}/roles`, { name: OPERATOR, description: 'may log in through the break-glass client; grants nothing by itself' });
  const server = await findClient(ctx.client, realm, term(ctx, TERMS.audience));
  if (!server) throw new Error(`realm ${realm} has no resource server ${term(ctx, TERMS.audience)}`);
  await api.call('POST', `${r}/clients/${server.id}/roles`, { name: EMERGENCY_ROLE, description: 'the emergency grant: mapped for the window only' });
  const role = await api.call<{ id: string; name: string }>('GET', `${r}/clients/${server.id}/roles/${EMERGENCY_ROLE}`);
  const limited = p.maxOpen !== undefined && p.limitSessions;
  const flow = await createPathFlow(ctx, realm, {
    alias: 'break-glass direct grant',
    ...(p.denyNonOperators ? { requiredRole: OPERATOR } : {}),
    denyMessage: LOCAL_DENY,
    ...(limited ? { sessionLimit: { max: p.maxOpen as number, message: LOCAL_LIMIT } } : {}),
  });
  const clientUuid = await createClient(ctx, realm, { clientId: CLIENT, directGrant: true, attributes, flowOverrides: { direct_grant: flow } });
  await withoutOfflineScope(ctx, realm, clientUuid);
  const identity = { username: IDENTITY, ...(await createTaskUser(ctx, realm, IDENTITY)) };
  await mapRealmRole(ctx, realm, identity.userId, OPERATOR);
  const routine = { username: ROUTINE, ...(await createTaskUser(ctx, realm, ROUTINE)) };
  if (p.routineMayUseBreakGlass) await mapRealmRole(ctx, realm, routine.userId, OPERATOR);
  ctx.evidence.record('break-glass path created, apart from the routine JIT path', {
    client: CLIENT,
    flow: 'break-glass direct grant',
    deniesUsersWithout: p.denyNonOperators ? OPERATOR : null,
    sessionLimitPerUser: limited ? p.maxOpen : null,
    accessTokenLifespanSeconds: Number(attributes['access.token.lifespan']),
    sessionLifespanSeconds: session ?? "the realm's",
    emergencyRole: `${server.clientId}/${EMERGENCY_ROLE}`,
    breakGlassIdentity: IDENTITY,
    routineIdentity: ROUTINE,
  });
  if (session === null) ctx.evidence.record("broken setup: the break-glass client and realm set no session bound of the window: the realm's ten minutes apply");
  if (!p.denyNonOperators) ctx.evidence.record('broken setup: the break-glass flow denies nobody');
  if (p.routineMayUseBreakGlass) ctx.evidence.record('broken setup: the routine JIT identity holds the break-glass operator role too', { routineIdentity: ROUTINE });
  if (p.maxOpen !== undefined && !limited) ctx.evidence.record('broken setup: the break-glass flow has no session limiter');
  return {
    realm,
    clientId: CLIENT,
    role,
    mappings: `/role-mappings/clients/${server.id}`,
    roleLabel: `${server.clientId}/${EMERGENCY_ROLE}`,
    denyMessage: LOCAL_DENY,
    limitMessage: LOCAL_LIMIT,
    identity,
    routine,
    sessions: [],
  };
}

async function useExistingPath(ctx: Ctx, existing: NonNullable<Params['existing']>): Promise<Path> {
  const realm = term(ctx, TERMS.realm);
  const r = `/${encodeURIComponent(realm)}`;
  await useExisting(ctx, `client ${existing.clientId} of realm ${realm}`, () => existingClient(ctx.client, realm, existing.clientId));
  const owner = existing.emergencyRole.client ? await existingClient(ctx.client, realm, existing.emergencyRole.client) : undefined;
  const roleLabel = owner ? `${owner.clientId}/${existing.emergencyRole.name}` : existing.emergencyRole.name;
  const role = await useExisting(ctx, `role ${roleLabel} of realm ${realm}`, () =>
    ctx.client.admin.call<{ id: string; name: string }>('GET', owner ? `${r}/clients/${owner.id}/roles/${encodeURIComponent(existing.emergencyRole.name)}` : `${r}/roles/${encodeURIComponent(existing.emergencyRole.name)}`),
  );
  const identity = { username: existing.identity, password: secretFromEnv(ctx, existing.identityPasswordEnv, "the break-glass identity's password"), userId: await userIdOf(ctx, realm, existing.identity) };
  const routine =
    existing.routine && existing.routinePasswordEnv
      ? { username: existing.routine, password: secretFromEnv(ctx, existing.routinePasswordEnv, "the routine JIT identity's password"), userId: await userIdOf(ctx, realm, existing.routine) }
      : undefined;
  ctx.evidence.record("break-glass path: the user's own client, role and identities, used as they are", { client: existing.clientId, emergencyRole: roleLabel, breakGlassIdentity: identity.username, routineIdentity: routine?.username ?? null });
  return {
    realm,
    clientId: existing.clientId,
    role: { id: role.id, name: role.name },
    mappings: owner ? `/role-mappings/clients/${owner.id}` : '/role-mappings/realm',
    roleLabel,
    denyMessage: existing.denyMessage,
    limitMessage: existing.limitMessage,
    identity,
    ...(routine ? { routine } : {}),
    sessions: [],
  };
}

/** A login through the path as `who`, read by the path's own refusals; its tokens are registered before anything can record them. */
async function logIn(ctx: Ctx, who: User, refusals: readonly string[]): Promise<ProbeResult & { body?: unknown }> {
  const p = path(ctx);
  const answer = await tokenRequest(ctx.client.base, p.realm, { grant_type: 'password', client_id: p.clientId, username: who.username, password: who.password, scope: 'openid' }, readPathLogin(refusals));
  registerTokens(ctx, answer.body);
  return answer;
}

const tokenOf = (body: unknown, key: 'access_token' | 'refresh_token'): string | undefined => {
  const value = (body as Record<string, unknown> | undefined)?.[key];
  return typeof value === 'string' ? value : undefined;
};

const sidOf = (token: string): string | undefined => claimsOf(token).sid as string | undefined;

/** End one session at once; gone already is fine. */
async function endSession(ctx: Ctx, sid: string): Promise<void> {
  try {
    await ctx.client.admin.call('DELETE', `/${encodeURIComponent(path(ctx).realm)}/sessions/${sid}`);
  } catch (error) {
    if (!isNotFound(error)) ctx.evidence.record(`session ${sid} could not be ended at once (teardown tries again): ${(error as Error).message}`);
  }
}

/** A login that worked opened a session: remembered, so it is ended whatever happens next. */
function opened(ctx: Ctx, body: unknown): string | undefined {
  const access = tokenOf(body, 'access_token');
  const sid = access ? sidOf(access) : undefined;
  if (sid) path(ctx).sessions.push(sid);
  return sid;
}

async function sessionIds(ctx: Ctx, who: User): Promise<string[]> {
  const sessions = await ctx.client.admin.call<{ id: string }[]>('GET', `${users(path(ctx).realm)}/${who.userId}/sessions`);
  return sessions.map((s) => s.id);
}

async function emergencyMapped(ctx: Ctx): Promise<boolean> {
  const p = path(ctx);
  const mapped = await ctx.client.admin.call<{ id: string }[]>('GET', `${users(p.realm)}/${p.identity.userId}${p.mappings}`);
  return mapped.some((m) => m.id === p.role.id);
}

async function unmapEmergency(ctx: Ctx): Promise<void> {
  const p = path(ctx);
  await ctx.client.admin.call('DELETE', `${users(p.realm)}/${p.identity.userId}${p.mappings}`, [p.role]);
}

/** The routine JIT identity logs in through the path: only Keycloak's own refusal passes. */
async function judgeIsolation(ctx: Ctx): Promise<void> {
  const p = path(ctx);
  let attempt: ProbeResult | undefined;
  if (p.routine) {
    const answer = await logIn(ctx, p.routine, [p.denyMessage]);
    const sid = opened(ctx, answer.body);
    ctx.evidence.record(`routine JIT identity logs in through the break-glass client ${p.clientId}: ${answer.outcome}`, { routineIdentity: p.routine.username, answer: answer.detail, ...(sid ? { sid } : {}) }, new Date(answer.at));
    if (sid) await endSession(ctx, sid);
    attempt = { outcome: answer.outcome, at: answer.at, detail: answer.detail };
  }
  reportIsolation(ctx, `the break-glass client ${p.clientId}`, attempt, 'no routine JIT identity to try the break-glass path with: set existing.routine and existing.routinePasswordEnv');
}

/** Outside an emergency the break-glass identity's own login must reach nothing: its token is shown to the resource server. */
async function standingOfIdentity(ctx: Ctx): Promise<ProbeResult> {
  const p = path(ctx);
  // The limiter's refusal would only say that some session of the identity is open already: not a denial of the resource.
  const answer = await logIn(ctx, p.identity, [p.denyMessage]);
  const access = tokenOf(answer.body, 'access_token');
  if (answer.outcome === 'denied') return { outcome: 'denied', at: answer.at, detail: `the path refuses the break-glass identity outside an emergency (${answer.detail})` };
  if (!access) return { outcome: 'unknown', at: answer.at, detail: `the break-glass identity's login outside an emergency: ${answer.detail}` };
  const sid = opened(ctx, answer.body);
  const standing = await ctx.pointOfUse.probe(bornCredential(ctx.secrets, { type: 'bearer-token', token: access }));
  ctx.evidence.record(`break-glass identity outside an emergency: its own token shown to the resource server: ${standing.outcome}`, { breakGlassIdentity: p.identity.username, aud: audiences(claimsOf(access)), answer: standing.detail }, new Date(standing.at));
  // Its session must not count against the path's limit, nor be left behind.
  if (sid) await endSession(ctx, sid);
  return standing;
}

function furtherGrants(ctx: Ctx, first: string): FurtherGrants<string> {
  const p = path(ctx);
  return {
    path: `the break-glass client ${p.clientId}`,
    maxOpen: ctx.params.maxOpen,
    request: async () => {
      const answer = await logIn(ctx, p.identity, [p.limitMessage]);
      const sid = opened(ctx, answer.body);
      return { result: { outcome: answer.outcome, at: answer.at, detail: answer.detail }, ...(sid ? { made: sid } : {}) };
    },
    firstOpen: async () => {
      try {
        return (await sessionIds(ctx, p.identity)).includes(first);
      } catch {
        return undefined;
      }
    },
    release: (sid) => endSession(ctx, sid),
    describe: (sid) => ({ sid, breakGlassIdentity: p.identity.username }),
  };
}

export const breakGlassSource: GrantSource<Params, IdpClient> = {
  title: 'Emergency session through a break-glass client only its operators may log in to, with a role mapped for the window',
  params,
  issues: ['bearer-token'],
  needs: [TERMS.realm, TERMS.audience],
  checks: (p) => ['break-glass-isolated', 'reuse-denied', 'session-ended-with-task', 'holder-cannot-extend', ...(p.maxOpen === undefined ? [] : ['break-glass-one-open'])],
  remediation: {
    'ttl-bounded': "Set the break-glass client's Access Token Lifespan (access.token.lifespan) to the emergency window or less",
    'zero-standing-privilege': "Give the break-glass identity only the role that lets it log in through the break-glass client; map the role the resource server needs (its audience) only for an emergency",
    'break-glass-isolated': 'Bind a direct-grant (and browser) flow to the break-glass client whose conditional step denies every user without the break-glass operator role ("Condition - user role", negated, then "Deny access"), and keep that role off the routine JIT identities',
    'break-glass-one-open': 'Add a "User Session Count Limiter" to the break-glass flow, client limit 1, behaviour "Deny new session"',
    'reuse-denied': "Bound the break-glass client's session (client.session.max.lifespan and idle) and the realm's SSO session to the emergency window, and remove the emergency role mapping when the window ends",
    'session-ended-with-task': 'Bound the SSO session max and idle (realm and break-glass client) to the emergency window, so the emergency session and its refresh token end with it',
    'holder-cannot-extend': "Bound the break-glass client's session max and idle to the emergency window and remove offline_access from its client scopes",
    'no-residue': "Remove the emergency role mapping from the break-glass identity when the window ends, and end its sessions",
  },

  async setup(ctx) {
    ctx.state.set('path', ctx.params.existing ? await useExistingPath(ctx, ctx.params.existing) : await createLocalPath(ctx));
  },

  // The emergency role mapping, and in a realm of the user's own (whose sessions the point of use
  // does not read) the break-glass identity's sessions: what an emergency leaves if nothing ends it.
  async entitlements(ctx) {
    const p = ctx.state.get('path') as Path | undefined;
    if (!p) return [];
    try {
      const sessions = ctx.params.existing ? (await sessionIds(ctx, p.identity)).map((sid) => `session ${sid} of ${p.identity.username}`) : [];
      return [...sessions, ...((await emergencyMapped(ctx)) ? [`role ${p.roleLabel} mapped to ${p.identity.username}`] : [])].sort();
    } catch (error) {
      // The realm is gone (the point of use's teardown ran): it holds nothing.
      if (isNotFound(error)) return [];
      throw error;
    }
  },

  // Outside an emergency: the routine identity is refused on the path, and the break-glass
  // identity's own token reaches nothing (its standing privilege, judged by the engine).
  async probeStanding(ctx) {
    await judgeIsolation(ctx);
    return standingOfIdentity(ctx);
  },

  async request(ctx): Promise<Grant> {
    const p = path(ctx);
    await ctx.client.admin.call('POST', `${users(p.realm)}/${p.identity.userId}${p.mappings}`, [p.role]);
    ctx.evidence.record('emergency role mapped to the break-glass identity for the window', { role: p.roleLabel, breakGlassIdentity: p.identity.username });
    const answer = await logIn(ctx, p.identity, [p.denyMessage, p.limitMessage]);
    const access = tokenOf(answer.body, 'access_token');
    const refreshToken = tokenOf(answer.body, 'refresh_token');
    if (!access || !refreshToken) throw new Error(`the break-glass identity could not log in through ${p.clientId}: ${answer.outcome} (${answer.detail})`);
    const sid = opened(ctx, answer.body) ?? '';
    ctx.state.set('first', sid);
    const credential = bornCredential(ctx.secrets, { type: 'bearer-token', token: access });
    const claims = claimsOf(access);
    const refreshExp = claimsOf(refreshToken).exp ?? null;
    ctx.evidence.record('emergency session opened through the break-glass path (the tokens themselves are never recorded)', {
      sid,
      jti: claims.jti ?? null,
      aud: audiences(claims),
      iat: claims.iat ?? null,
      exp: claims.exp ?? null,
      sessionReachesUntil: refreshExp === null ? null : new Date(refreshExp * 1000).toISOString(),
    });
    const asked = ctx.params.ttlSeconds ?? (ctx.params.existing ? null : ctx.task.windowSeconds);
    return {
      ...grantTimes(claims, asked),
      credentialId: `emergency session ${sid} of ${p.identity.username}`,
      attributes: { breakGlass: true, client: p.clientId, breakGlassIdentity: p.identity.username, emergencyRole: p.roleLabel, sid },
      handles: [
        { name: 'emergency access token introspected by the resource server', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(credential, node) },
        {
          name: "the emergency session's refresh token",
          check: 'session-ended-with-task',
          probe: async () => {
            const { outcome, at, detail, body } = await refresh(ctx.client.base, p.realm, p.clientId, refreshToken);
            registerTokens(ctx, body);
            return { outcome, at, detail };
          },
        },
      ],
      // A second login would be a second emergency session, which the limiter refuses before any scope is read: only the refresh is tried.
      extensions: sessionExtensions(ctx, { realm: p.realm, loginClient: p.clientId, username: p.identity.username, password: p.identity.password, refreshToken }, { offline: false }),
      credential,
    };
  },

  // Before the first session ends: a further emergency session while it is open. Asked after the first use, so it never delays it.
  afterUse: (ctx, grant) => askWhileOpen(ctx, grant, furtherGrants(ctx, ctx.state.get('first') as string)),

  async end(ctx, _grant, mode) {
    // The window is over (or the task ended): the broker takes the emergency role back. The session
    // and its tokens must end by themselves at an expiry; a revoke ends the session too.
    await unmapEmergency(ctx);
    ctx.evidence.record('emergency role mapping removed from the break-glass identity', { role: path(ctx).roleLabel });
    if (mode === 'revoke') await endSession(ctx, ctx.state.get('first') as string);
  },

  async teardown(ctx) {
    const p = ctx.state.get('path') as Path | undefined;
    if (!p) return [];
    const removed: string[] = [];
    try {
      if (await emergencyMapped(ctx)) {
        await unmapEmergency(ctx);
        removed.push(`role mapping ${p.roleLabel} of ${p.identity.username}`);
      }
      for (const sid of p.sessions) await endSession(ctx, sid);
    } catch (error) {
      // Locally everything lives in the scenario's realm, which the point of use deletes next.
      if (!isNotFound(error)) throw error;
    }
    if (ctx.params.existing) await confirmUnchanged(ctx);
    return removed;
  },
};
