/**
 * How the holder of a task user's session may try to stretch it without a new approval:
 *
 * - a refresh with the session's refresh token: inside the window the task may refresh, and the
 *   new refresh token's `exp` is where Keycloak says the session now reaches (its lifespan caps it,
 *   so on a conformant client it never passes the window); after the end the refresh must be
 *   refused with `invalid_grant`;
 * - an offline token: the task's login client asks for the same user again with `offline_access`.
 *   An offline token outlives every session and states no end: standing privilege. Keycloak's own
 *   refusal is `invalid_scope` (the scope is not the client's); anything else is unknown.
 *
 * The offline attempt needs the user's login, which the task's app holds as the one logging the
 * user in: it is the app, not a third party, that would keep an offline token. Whatever a refresh
 * or an offline login mints is handed back to be probed after the end. See probes.ts for what
 * counts as a refusal.
 */
import type { ExtensionAttempt, ExtensionResult, GrantContext, ReuseHandle } from '../contract.ts';
import { bornCredential } from '../contract.ts';
import type { IdpClient } from './client.ts';
import { claimsOf } from './jwt.ts';
import { readOfflineLogin, refresh, tokenRequest } from './probes.ts';

export interface HeldSession {
  realm: string;
  /** The public client the task user logs in through. */
  loginClient: string;
  username: string;
  password: string;
  refreshToken: string;
}

type Ctx = GrantContext<unknown, IdpClient>;

/** Register every token of a token endpoint's answer for redaction: a refresh or a login that worked minted them. */
export function registerTokens(ctx: Ctx, answer: unknown): void {
  for (const key of ['access_token', 'refresh_token', 'id_token']) {
    const value = (answer as Record<string, unknown> | undefined)?.[key];
    if (typeof value === 'string') ctx.secrets.add(value);
  }
}

/** Where a refresh token says its session reaches: its `exp`, or null when it states none (an offline token). */
function reachOf(refreshToken: string): string | null {
  const exp = claimsOf(refreshToken).exp;
  return exp === undefined ? null : new Date(exp * 1000).toISOString();
}

function refreshed(ctx: Ctx, answer: unknown, moment: string): ReuseHandle | undefined {
  const token = (answer as Record<string, unknown> | undefined)?.access_token;
  if (typeof token !== 'string') return undefined;
  const credential = bornCredential(ctx.secrets, { type: 'bearer-token', token });
  return { name: `access token the holder refreshed ${moment} (jti ${claimsOf(token).jti ?? 'none'})`, check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(credential, node) };
}

/** `offline: false`: only the refresh is tried (a path whose flow allows one session refuses a second login before its scope is read). */
export function sessionExtensions(ctx: Ctx, held: HeldSession, options: { offline?: boolean } = {}): ExtensionAttempt[] {
  const base = ctx.client.base;
  const attempts: ExtensionAttempt[] = [
    {
      name: "refresh with the session's refresh token",
      attempt: async (moment): Promise<ExtensionResult> => {
        const { outcome, at, detail, body } = await refresh(base, held.realm, held.loginClient, held.refreshToken);
        registerTokens(ctx, body);
        const when = moment === 'inside-window' ? 'during the task' : 'after the end';
        if (outcome === 'denied') {
          // The task may refresh inside its window: a refusal there leaves the window itself untested.
          if (moment === 'inside-window') ctx.report({ check: 'holder-cannot-extend', verdict: 'inconclusive', detail: `the refresh was refused inside the window too (${detail}), so a refusal past it does not show that the window bounds the session` });
          return { outcome: 'refused', at, detail };
        }
        if (outcome === 'unknown') return { outcome: 'unknown', at, detail };
        const next = (body as Record<string, unknown>).refresh_token;
        const reachesUntil = typeof next === 'string' ? reachOf(next) : null;
        const minted = refreshed(ctx, body, when);
        return {
          outcome: 'extended',
          at,
          detail: `${detail}; the new refresh token ${reachesUntil === null ? 'states no end' : `reaches until ${reachesUntil}`}`,
          reachesUntil,
          ...(minted ? { minted: [minted] } : {}),
        };
      },
    },
    {
      name: "offline token through the task's login client (scope offline_access)",
      attempt: async (moment): Promise<ExtensionResult> => {
        const form = { grant_type: 'password', client_id: held.loginClient, username: held.username, password: held.password, scope: 'openid offline_access' };
        const { outcome, at, detail, body } = await tokenRequest(base, held.realm, form, readOfflineLogin);
        registerTokens(ctx, body);
        if (outcome !== 'allowed') return { outcome: outcome === 'denied' ? 'refused' : 'unknown', at, detail };
        const offline = (body as Record<string, unknown>).refresh_token as string;
        const handle: ReuseHandle = {
          name: `offline token the holder obtained ${moment === 'inside-window' ? 'during the task' : 'after the end'}`,
          check: 'holder-cannot-extend',
          probe: async () => {
            const tried = await refresh(base, held.realm, held.loginClient, offline);
            registerTokens(ctx, tried.body);
            return { outcome: tried.outcome, at: tried.at, detail: tried.detail };
          },
        };
        ctx.evidence.record('the holder obtained an offline token: it outlives every session of the task', { refreshTokenType: claimsOf(offline).typ ?? null, sid: claimsOf(offline).sid ?? null, moment });
        return { outcome: 'extended', at, detail, reachesUntil: reachOf(offline), minted: [handle] };
      },
    },
  ];
  return options.offline === false ? attempts.slice(0, 1) : attempts;
}
