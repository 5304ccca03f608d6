/**
 * What a scenario creates in Keycloak: one realm named with the scenario's prefix, holding every
 * client, user and scope of the scenario, so deleting the realm removes all of it at once.
 */
import { randomBytes } from 'node:crypto';
import type { ScenarioContext } from '../contract.ts';
import { IdpAnswerError, isNotFound, postForm, readBody, tokenEndpoint, type IdpClient } from './client.ts';

export type IdpContext<P> = ScenarioContext<P, IdpClient>;

/** A secret for a client of the scenario, registered for redaction before it is sent anywhere. */
export function newSecret(ctx: IdpContext<unknown>): string {
  const secret = randomBytes(24).toString('base64url');
  ctx.secrets.add(secret);
  return secret;
}

export async function createRealm(ctx: IdpContext<unknown>, realm: string): Promise<void> {
  // Short default lifespans: nothing of the scenario should outlive it by much even if a step fails.
  await ctx.client.admin.call('POST', '', { realm, enabled: true, accessTokenLifespan: 60, ssoSessionIdleTimeout: 600, ssoSessionMaxLifespan: 600 });
}

/** Delete the realm and all it holds; gone already is fine. Returns what was removed. */
export async function deleteRealm(client: IdpClient, realm: string): Promise<string[]> {
  try {
    await client.admin.call('DELETE', `/${encodeURIComponent(realm)}`);
    return [`realm ${realm}`];
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

/** A protocol mapper that puts `audience` (a client id) into the tokens of the client it sits on. */
export function audienceMapper(audience: string): Record<string, unknown> {
  return {
    name: `audience ${audience}`,
    protocol: 'openid-connect',
    protocolMapper: 'oidc-audience-mapper',
    config: { 'included.client.audience': audience, 'access.token.claim': 'true', 'introspection.token.claim': 'true' },
  };
}

export interface ClientSpec {
  clientId: string;
  /** Absent: a public client. */
  secret?: string;
  serviceAccount?: boolean;
  directGrant?: boolean;
  attributes?: Record<string, string>;
  audiences?: string[];
  /** Flows this client uses instead of the realm's (`direct_grant`: a flow's id). */
  flowOverrides?: Record<string, string>;
}

/** Create a client in the realm; returns its internal id. No browser flow: nothing of the scenario logs in interactively. */
export function createClient(ctx: IdpContext<unknown>, realm: string, spec: ClientSpec): Promise<string> {
  return ctx.client.admin.create(`/${encodeURIComponent(realm)}/clients`, {
    clientId: spec.clientId,
    enabled: true,
    protocol: 'openid-connect',
    publicClient: spec.secret === undefined,
    ...(spec.secret === undefined ? {} : { secret: spec.secret, clientAuthenticatorType: 'client-secret' }),
    standardFlowEnabled: false,
    implicitFlowEnabled: false,
    directAccessGrantsEnabled: spec.directGrant ?? false,
    serviceAccountsEnabled: spec.serviceAccount ?? false,
    attributes: spec.attributes ?? {},
    ...(spec.flowOverrides ? { authenticationFlowBindingOverrides: spec.flowOverrides } : {}),
    protocolMappers: (spec.audiences ?? []).map(audienceMapper),
  });
}

/** Drop `offline_access` from the client's optional scopes: the client can then never be granted an offline token. */
export async function withoutOfflineScope(ctx: IdpContext<unknown>, realm: string, clientUuid: string): Promise<void> {
  const r = encodeURIComponent(realm);
  const optional = await ctx.client.admin.call<{ id: string; name: string }[]>('GET', `/${r}/clients/${clientUuid}/optional-client-scopes`);
  for (const scope of optional.filter((s) => s.name === 'offline_access')) await ctx.client.admin.call('DELETE', `/${r}/clients/${clientUuid}/optional-client-scopes/${scope.id}`);
}

interface ClientRepresentation {
  id: string;
  clientId: string;
}

/** One client of the realm by its client id, as Keycloak describes it; undefined when there is none. */
export async function findClient(client: IdpClient, realm: string, clientId: string): Promise<(ClientRepresentation & Record<string, unknown>) | undefined> {
  const found = await client.admin.call<(ClientRepresentation & Record<string, unknown>)[]>('GET', `/${encodeURIComponent(realm)}/clients?clientId=${encodeURIComponent(clientId)}`);
  return found.find((c) => c.clientId === clientId);
}

/** A client of the user's own realm that a scenario names: it must be there. */
export async function existingClient(client: IdpClient, realm: string, clientId: string): Promise<ClientRepresentation & Record<string, unknown>> {
  const found = await findClient(client, realm, clientId);
  if (!found) throw new Error(`existing: realm ${realm} has no client ${clientId}`);
  return found;
}

/** A secret of the user's own from the variable named, registered for redaction before anything can record it. */
export function secretFromEnv(ctx: IdpContext<unknown>, variable: string, what: string): string {
  const value = process.env[variable];
  if (!value) throw new Error(`existing: the variable ${variable} holds nothing for ${what}`);
  ctx.secrets.add(value);
  return value;
}

export function listClients(client: IdpClient, realm: string): Promise<ClientRepresentation[]> {
  return client.admin.call<ClientRepresentation[]>('GET', `/${encodeURIComponent(realm)}/clients?max=1000`);
}

/** A user made for the task, with a password of its own (registered for redaction). */
export async function createTaskUser(ctx: IdpContext<unknown>, realm: string, username: string): Promise<{ userId: string; password: string }> {
  const password = newSecret(ctx);
  const userId = await ctx.client.admin.create(`/${encodeURIComponent(realm)}/users`, {
    username,
    enabled: true,
    email: `${username}@example.invalid`,
    emailVerified: true,
    firstName: 'Task',
    lastName: 'User',
    credentials: [{ type: 'password', value: password, temporary: false }],
  });
  return { userId, password };
}

/** The tokens of a login; every one is registered for redaction before it is returned. */
export interface LoginTokens {
  accessToken: string;
  refreshToken: string | undefined;
}

/** The task user's login on a public client of the realm (password grant). */
export async function passwordLogin(ctx: IdpContext<unknown>, realm: string, clientId: string, username: string, password: string, scope = 'openid'): Promise<LoginTokens> {
  const response = await postForm(tokenEndpoint(ctx.client.base, realm), { grant_type: 'password', client_id: clientId, username, password, scope });
  const body = (await readBody(response)) as { access_token?: unknown; refresh_token?: unknown; id_token?: unknown } | undefined;
  if (!response.ok || typeof body?.access_token !== 'string') {
    throw new IdpAnswerError(response.status, undefined, `the task user's login was refused: HTTP ${response.status}`);
  }
  for (const token of [body.access_token, body.refresh_token, body.id_token]) if (typeof token === 'string') ctx.secrets.add(token);
  return { accessToken: body.access_token, refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : undefined };
}
