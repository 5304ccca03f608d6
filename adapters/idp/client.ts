/**
 * Keycloak's admin REST API and its OIDC endpoints, over node's fetch. The admin token is the
 * harness's own (the bootstrap admin of a local target, or the credential an external target was
 * given), fetched when needed and renewed before it runs out; no token or secret is ever part of
 * an error's text.
 */
import pLimit from 'p-limit';
import type { TargetConnection } from '../contract.ts';

/** How the harness authenticates to the admin API: a user of the admin realm, or a service-account client. */
export type AdminCredential = { kind: 'password'; username: string; password: string } | { kind: 'client'; clientId: string; secret: string };

/** An answer of Keycloak that was not the one asked for: its status and what its body says, never a secret. */
export class IdpAnswerError extends Error {
  constructor(
    readonly status: number,
    /** Keycloak's `error` field (`invalid_grant`), or its `errorMessage`, when the body is its own JSON. */
    readonly error: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'IdpAnswerError';
  }
}

export interface IdpClient {
  /** Where Keycloak answers: `http://127.0.0.1:40123` (no trailing slash, no /realms). */
  base: string;
  /** The realm the admin credential belongs to. */
  adminRealm: string;
  admin: AdminApi;
}

const TIMEOUT_MS = 10_000;
/** Creating a realm writes dozens of rows and warms caches: seconds each on two cores, longer when scenarios make theirs at once. */
const ADMIN_TIMEOUT_MS = 90_000;
/**
 * Realms made or removed at once per Keycloak. Each is hundreds of rows (default clients, roles,
 * scopes); concurrent scenarios sending theirs all at once queue inside the server, where each
 * call's timeout runs while it waits, and on a loaded machine the calls of other scenarios' setups
 * ran out of time behind them. Queued here, a realm's own timeout counts the server's work only.
 * Nothing else waits in this queue: an end call or a probe is never held behind another
 * scenario's setup, so its latency stays the target's.
 */
const REALMS_IN_FLIGHT = 2;
/** A realm itself: `POST /admin/realms`, `DELETE /admin/realms/<realm>`. */
const isRealmWrite = (method: string, path: string): boolean => (method === 'POST' && path === '') || (method === 'DELETE' && /^\/[^/]+$/.test(path));

/** Read a body as Keycloak's own JSON error, where it is one. */
function errorOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  for (const key of ['error', 'errorMessage']) if (typeof b[key] === 'string') return b[key];
  return undefined;
}

export async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A form POST to an OIDC endpoint; `fresh` asks for a connection of its own (a probe). */
export async function postForm(url: string, form: Record<string, string>, options: { basic?: { user: string; password: string }; fresh?: boolean } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (options.basic) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(options.basic.user)}:${encodeURIComponent(options.basic.password)}`).toString('base64')}`;
  // The server closes the connection after answering: the next probe cannot ride on this one.
  if (options.fresh) headers.connection = 'close';
  // A probe's unanswered question is an unknown answer soon; a step of the lifecycle waits as long as an admin call, since a Keycloak busy making realms answers its token endpoint late too.
  return fetch(url, { method: 'POST', headers, body: new URLSearchParams(form).toString(), signal: AbortSignal.timeout(options.fresh ? TIMEOUT_MS : ADMIN_TIMEOUT_MS) });
}

export const tokenEndpoint = (base: string, realm: string): string => `${base}/realms/${encodeURIComponent(realm)}/protocol/openid-connect/token`;

export class AdminApi {
  private token: { value: string; renewAt: number } | undefined;
  private readonly realmWrites = pLimit(REALMS_IN_FLIGHT);

  constructor(
    private readonly base: string,
    private readonly realm: string,
    private readonly credential: AdminCredential,
  ) {}

  /** The admin token, renewed 10 s before its end (the master realm's default lifespan is a minute). */
  private async accessToken(): Promise<string> {
    if (this.token && Date.now() < this.token.renewAt) return this.token.value;
    const c = this.credential;
    const form: Record<string, string> =
      c.kind === 'password'
        ? { grant_type: 'password', client_id: 'admin-cli', username: c.username, password: c.password }
        : { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.secret };
    const response = await postForm(tokenEndpoint(this.base, this.realm), form);
    const body = await readBody(response);
    const token = (body as { access_token?: unknown; expires_in?: unknown } | undefined)?.access_token;
    if (!response.ok || typeof token !== 'string') {
      throw new IdpAnswerError(response.status, errorOf(body), `admin login to realm ${this.realm} refused: HTTP ${response.status} ${errorOf(body) ?? ''}`.trim());
    }
    const lifespan = Number((body as { expires_in?: unknown }).expires_in ?? 60);
    this.token = { value: token, renewAt: Date.now() + Math.max(5, lifespan - 10) * 1000 };
    return token;
  }

  /** Check the credential now: what `connect` of an external target does before anything runs. */
  async login(): Promise<void> {
    this.token = undefined;
    await this.accessToken();
  }

  /** One admin call under `/admin/realms`; the JSON answer, or undefined for an empty one. */
  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    return isRealmWrite(method, path) ? this.realmWrites(() => this.send<T>(method, path, body)) : this.send<T>(method, path, body);
  }

  private async send<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.base}/admin/realms${path}`, {
      method,
      headers: { authorization: `Bearer ${await this.accessToken()}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(ADMIN_TIMEOUT_MS),
    });
    const answer = await readBody(response);
    if (!response.ok) throw new IdpAnswerError(response.status, errorOf(answer), `${method} /admin/realms${path}: HTTP ${response.status}${errorOf(answer) ? ` ${errorOf(answer)}` : ''}`);
    return answer as T;
  }

  /** The id of the object a POST created, from its Location header. */
  async create(path: string, body: unknown): Promise<string> {
    const response = await fetch(`${this.base}/admin/realms${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await this.accessToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(ADMIN_TIMEOUT_MS),
    });
    const answer = await readBody(response);
    if (!response.ok) throw new IdpAnswerError(response.status, errorOf(answer), `POST /admin/realms${path}: HTTP ${response.status}${errorOf(answer) ? ` ${errorOf(answer)}` : ''}`);
    return response.headers.get('location')?.split('/').at(-1) ?? '';
  }
}

export function connectIdp(connection: TargetConnection): IdpClient {
  const s = connection.settings;
  const credential: AdminCredential =
    s.adminClientId && s.adminClientSecret
      ? { kind: 'client', clientId: s.adminClientId, secret: s.adminClientSecret }
      : { kind: 'password', username: s.adminUser ?? '', password: s.adminPassword ?? '' };
  const adminRealm = s.adminRealm ?? 'master';
  return { base: connection.address, adminRealm, admin: new AdminApi(connection.address, adminRealm, credential) };
}

export function isNotFound(error: unknown): boolean {
  return error instanceof IdpAnswerError && error.status === 404;
}
