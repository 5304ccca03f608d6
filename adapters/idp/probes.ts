/**
 * Reading Keycloak's answers as tri-state probes. What counts, exactly:
 *
 * Token introspection (RFC 7662) by a resource-server client, the verdict of every bearer-token probe:
 * - `allowed`: HTTP 200, a JSON object whose `active` is the boolean `true`;
 * - `denied`: HTTP 200, a JSON object whose `active` is the boolean `false` — the identity
 *   provider's own statement that the token is expired, revoked, of an ended session, or not meant
 *   for the asking resource server (not in its audience).
 * Everything else is `unknown`: 401 `invalid_client` (the resource server itself was refused, which
 * says nothing about the token), any other status, a body that is not JSON, a JSON body without a
 * boolean `active` (`"false"` as a string included), HTML from a proxy, timeouts, refused or reset
 * connections.
 *
 * A refresh (the token endpoint with `grant_type=refresh_token`), the verdict of a refresh-token probe:
 * - `allowed`: HTTP 200 with a new `access_token`;
 * - `denied`: HTTP 400 with Keycloak's JSON error `invalid_grant` (the refresh token is expired,
 *   revoked or its session is gone).
 * Everything else is `unknown`, `invalid_client` and `unauthorized_client` included.
 *
 * A login asking an offline token (`scope=openid offline_access`), the verdict of the holder's
 * attempt to hold the task past every session:
 * - `allowed`: HTTP 200 whose refresh token is of type `Offline`;
 * - `denied`: HTTP 400 with Keycloak's JSON error `invalid_scope` (the scope is not the client's),
 *   or HTTP 200 whose refresh token is of type `Refresh` (the scope was dropped, no offline token).
 * Everything else is `unknown`.
 *
 * A login through a break-glass path (a password grant on the path's client), the verdict of the
 * path's own refusals (grants/break-glass.ts):
 * - `allowed`: HTTP 200 with an `access_token`;
 * - `denied`: a refusal the path was set up to give: HTTP 401 (Deny access) or 403 (User Session
 *   Count Limiter) whose message is exactly one of those the path's flow was configured with.
 *   Keycloak 26.7.3 answers a direct grant refused by those authenticators not with an OAuth error
 *   code but with that message: as JSON `{"error": "<message>"}` when asked for JSON (as jitc
 *   asks), on its HTML error page (`kc-error-message`) otherwise. Also HTTP 400/401/403 with the
 *   OAuth error `access_denied`.
 * Everything else is `unknown`: `invalid_grant` ("Invalid user credentials": the identity could not
 * even authenticate, which says nothing of the path), an error page with another message, another
 * status, a proxy's page, no answer.
 *
 * What a resource server validating the JWT locally would accept (jwt.ts) is evidence beside
 * these answers, never a probe's outcome.
 */
import type { ProbeOutcome, ProbeResult } from '../contract.ts';
import { postForm, readBody, tokenEndpoint } from './client.ts';
import { claimsOf, realmIssuer, validateLocally } from './jwt.ts';

export interface Reading {
  outcome: ProbeOutcome;
  detail: string;
}

function describeBody(body: unknown): string {
  if (body === undefined) return 'empty body';
  if (typeof body === 'string') return `non-JSON body (${body.slice(0, 60).replace(/\s+/g, ' ')})`;
  const error = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).error : undefined;
  return typeof error === 'string' ? `error ${error}` : 'JSON without the expected fields';
}

/** Classify one introspection answer; `body` is the parsed JSON (or the raw text when it is not JSON). */
export function readIntrospection(status: number, body: unknown): Reading {
  if (status === 200 && typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const active = (body as Record<string, unknown>).active;
    if (active === true) return { outcome: 'allowed', detail: 'introspection: HTTP 200 active true' };
    if (active === false) return { outcome: 'denied', detail: 'introspection: HTTP 200 active false' };
  }
  return { outcome: 'unknown', detail: `unrecognised introspection answer: HTTP ${status}, ${describeBody(body)}` };
}

/** Classify one answer of the token endpoint to a refresh. */
export function readRefresh(status: number, body: unknown): Reading {
  const b = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  if (status === 200 && typeof b?.access_token === 'string') return { outcome: 'allowed', detail: 'refresh: HTTP 200, a new access token issued' };
  if (status === 400 && b?.error === 'invalid_grant') return { outcome: 'denied', detail: `refresh: HTTP 400 invalid_grant${typeof b.error_description === 'string' ? ` (${b.error_description})` : ''}` };
  return { outcome: 'unknown', detail: `unrecognised refresh answer: HTTP ${status}, ${describeBody(body)}` };
}

/** Classify one answer of the token endpoint to a login that asked `offline_access`. */
export function readOfflineLogin(status: number, body: unknown): Reading {
  const b = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  if (status === 400 && b?.error === 'invalid_scope') return { outcome: 'denied', detail: `offline login: HTTP 400 invalid_scope${typeof b.error_description === 'string' ? ` (${b.error_description})` : ''}` };
  if (status === 200 && typeof b?.refresh_token === 'string') {
    let typ: unknown;
    try {
      typ = claimsOf(b.refresh_token).typ;
    } catch {
      typ = undefined;
    }
    if (typ === 'Offline') return { outcome: 'allowed', detail: 'offline login: HTTP 200, an offline token issued' };
    if (typ === 'Refresh') return { outcome: 'denied', detail: 'offline login: HTTP 200 without an offline token (refresh token of type Refresh)' };
  }
  return { outcome: 'unknown', detail: `unrecognised answer to an offline login: HTTP ${status}, ${describeBody(body)}` };
}

/** The message of Keycloak's own error page (`<div id="kc-error-message"><p class="instruction">…`), decoded; undefined on any other body. */
export function errorPageMessage(body: unknown): string | undefined {
  if (typeof body !== 'string') return undefined;
  const found = /<div id="kc-error-message">\s*<p class="instruction">([^<]*)<\/p>/.exec(body);
  if (!found) return undefined;
  const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" };
  return found[1]!.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_m, name: string) => entities[name] ?? '').trim();
}

/** Classify a login through a break-glass path; `refusals` are the messages its flow refuses with. */
export function readPathLogin(refusals: readonly string[]): (status: number, body: unknown) => Reading {
  return (status, body) => {
    const b = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
    if (status === 200 && typeof b?.access_token === 'string') return { outcome: 'allowed', detail: 'login: HTTP 200, tokens issued' };
    if ([400, 401, 403].includes(status) && b?.error === 'access_denied') return { outcome: 'denied', detail: `login: HTTP ${status} access_denied` };
    // Asked for JSON, Keycloak puts an authenticator's configured message in `error`; a browser gets the same message on its error page.
    const message = typeof b?.error === 'string' ? b.error : errorPageMessage(body);
    if ((status === 401 || status === 403) && message !== undefined && refusals.includes(message)) return { outcome: 'denied', detail: `login: HTTP ${status} "${message}"` };
    if (message !== undefined) {
      const description = typeof b?.error_description === 'string' ? ` (${b.error_description})` : '';
      return { outcome: 'unknown', detail: `login: HTTP ${status} "${message}"${description}: not a refusal the path was set up to give (${refusals.map((r) => `"${r}"`).join(', ')})` };
    }
    return { outcome: 'unknown', detail: `unrecognised answer to a login: HTTP ${status}, ${describeBody(body)}` };
  };
}

/** Run one HTTP exchange and read it; no answer at all is `unknown`. */
async function probeHttp(send: () => Promise<Response>, read: (status: number, body: unknown) => Reading): Promise<ProbeResult & { body?: unknown }> {
  try {
    const response = await send();
    const body = await readBody(response);
    return { ...read(response.status, body), at: new Date().toISOString(), body };
  } catch (error) {
    return { outcome: 'unknown', at: new Date().toISOString(), detail: `no answer: ${(error as Error).message}` };
  }
}

export interface ResourceServer {
  clientId: string;
  secret: string;
}

export const introspectionEndpoint = (base: string, realm: string): string => `${base}/realms/${encodeURIComponent(realm)}/protocol/openid-connect/token/introspect`;

/** The resource server asks the identity provider about a token, on a connection of its own. */
export function introspect(base: string, realm: string, server: ResourceServer, token: string): Promise<ProbeResult & { body?: unknown }> {
  return probeHttp(
    () => postForm(introspectionEndpoint(base, realm), { token, token_type_hint: 'access_token' }, { basic: { user: server.clientId, password: server.secret }, fresh: true }),
    readIntrospection,
  );
}

/** A resource server's verdict on a token (introspection); a local JWT check goes into the detail as evidence, after the verdict. */
export async function acceptedBy(base: string, realm: string, server: ResourceServer, token: string): Promise<ProbeResult> {
  const { outcome, at, detail } = await introspect(base, realm, server, token);
  const local = await validateLocally(token, realmIssuer(base, realm), server.clientId);
  return { outcome, at, detail: `${server.clientId}: ${detail}; a local JWT check (evidence only) would ${local.accepted ? 'accept it' : `refuse it: ${local.detail}`}` };
}

/** One request to the token endpoint on a connection of its own, read by `read`; the body comes back for its tokens to be registered. */
export function tokenRequest(base: string, realm: string, form: Record<string, string>, read: (status: number, body: unknown) => Reading): Promise<ProbeResult & { body?: unknown }> {
  return probeHttp(() => postForm(tokenEndpoint(base, realm), form, { fresh: true }), read);
}

/** The holder refreshes with its refresh token (a public client: no secret), on a connection of its own. */
export function refresh(base: string, realm: string, clientId: string, refreshToken: string): Promise<ProbeResult & { body?: unknown }> {
  return tokenRequest(base, realm, { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken }, readRefresh);
}
