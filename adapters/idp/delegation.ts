/**
 * Delegation by an agent: the task user's access token goes to agent A, which exchanges it
 * (standard token exchange, RFC 8693, Keycloak's V2) for a token meant for agent B; B exchanges
 * that one for a token meant for agent C. A chain of two hops, each token tied to the task user's
 * session: when the task ends (the session's logout), every hop must turn inactive at
 * introspection by its own audience, the client it was minted for. A hop's token is a credential
 * derived from the grant (`derived-credentials-denied`).
 *
 * Keycloak's rules, which the fixtures follow: the asking client needs the attribute
 * `standard.token.exchange.enabled`, must itself be in the subject token's audience, and may ask
 * only for an audience its own tokens may carry (an audience mapper naming it).
 *
 * Broken setup for twins and mutants (`agents-own-tokens`): each agent calls downstream with a
 * client-credentials token of its own service account instead of exchanging the user's — the
 * agent's standing access, which no logout of the user touches. Such agents keep the realm's
 * token lifespan, as a client nobody tuned for the task does.
 */
import { z } from 'zod';
import { bornCredential, type GrantContext, type ReuseHandle } from '../contract.ts';
import { IdpAnswerError, postForm, readBody, tokenEndpoint, type IdpClient } from './client.ts';
import { createClient, newSecret } from './fixtures.ts';
import { claimsOf, realmIssuer, recordLocalAfterEnd } from './jwt.ts';
import { acceptedBy, type ResourceServer } from './probes.ts';

export const delegationMode = z.enum(['none', 'exchange', 'agents-own-tokens']);
export type DelegationMode = z.infer<typeof delegationMode>;

/** The agents of the chain in order: the first receives the user's token, the last is the final audience. */
export const AGENTS = ['agent-a', 'agent-b', 'agent-c'] as const;

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

type Ctx = GrantContext<unknown, IdpClient>;

interface Agents {
  realm: string;
  mode: Exclude<DelegationMode, 'none'>;
  agents: ResourceServer[];
  /** Each hop's token, with the agent it is meant for: probed at introspection by that agent. */
  hops: { token: string; audience: ResourceServer }[];
}

function agentsOf(ctx: Ctx): Agents {
  const a = ctx.state.get('agents') as Agents | undefined;
  if (!a) throw new Error('no agents: setup did not run');
  return a;
}

/** Create the chain's agents: each may ask for the next one's audience, and (exchange) may exchange tokens. */
export async function createAgents(ctx: Ctx, realm: string, mode: Exclude<DelegationMode, 'none'>, ttlSeconds: number): Promise<void> {
  const agents: ResourceServer[] = AGENTS.map((clientId) => ({ clientId, secret: newSecret(ctx) }));
  for (const [i, agent] of agents.entries()) {
    const next = agents[i + 1];
    const attributes: Record<string, string> = {};
    if (next && mode === 'exchange') attributes['standard.token.exchange.enabled'] = 'true';
    if (mode === 'exchange') attributes['access.token.lifespan'] = String(Math.round(ttlSeconds));
    await createClient(ctx, realm, { clientId: agent.clientId, secret: agent.secret, serviceAccount: next !== undefined && mode === 'agents-own-tokens', attributes, audiences: next ? [next.clientId] : [] });
  }
  ctx.state.set('agents', { realm, mode, agents, hops: [] } satisfies Agents);
  ctx.evidence.record('delegation chain created', { agents: AGENTS, mode });
  if (mode === 'agents-own-tokens') ctx.evidence.record("broken setup: each agent calls downstream with its own service account's token, not an exchange of the user's");
}

/** One hop: `from` turns `subject` into a token for `to` (or, broken, gets one of its own). */
async function hop(ctx: Ctx, a: Agents, from: ResourceServer, to: ResourceServer, subject: string): Promise<string> {
  const form: Record<string, string> =
    a.mode === 'exchange'
      ? { grant_type: TOKEN_EXCHANGE, client_id: from.clientId, client_secret: from.secret, subject_token: subject, subject_token_type: ACCESS_TOKEN_TYPE, requested_token_type: ACCESS_TOKEN_TYPE, audience: to.clientId }
      : { grant_type: 'client_credentials', client_id: from.clientId, client_secret: from.secret };
  const response = await postForm(tokenEndpoint(ctx.client.base, a.realm), form);
  const body = (await readBody(response)) as Record<string, unknown> | undefined;
  for (const key of ['access_token', 'refresh_token']) if (typeof body?.[key] === 'string') ctx.secrets.add(body[key]);
  if (!response.ok || typeof body?.access_token !== 'string') {
    const error = typeof body?.error === 'string' ? body.error : undefined;
    throw new IdpAnswerError(response.status, error, `${from.clientId} could not get a token for ${to.clientId}: HTTP ${response.status}${error ? ` ${error}` : ''}`);
  }
  return bornCredential(ctx.secrets, { type: 'bearer-token', token: body.access_token }).token;
}

/**
 * Run the chain with the task's access token, after its first use; returns a handle per hop. Each
 * hop's token must work at its own audience now, or the end proves nothing about it.
 */
export async function delegate(ctx: Ctx, userToken: string): Promise<ReuseHandle[]> {
  const a = agentsOf(ctx);
  const handles: ReuseHandle[] = [];
  let subject = userToken;
  for (let i = 0; i + 1 < a.agents.length; i++) {
    const from = a.agents[i]!;
    const to = a.agents[i + 1]!;
    const token = await hop(ctx, a, from, to, subject);
    const claims = claimsOf(token);
    const used = await acceptedBy(ctx.client.base, a.realm, to, token);
    ctx.evidence.record(
      `${from.clientId} ${a.mode === 'exchange' ? 'exchanged the task token' : 'took a token of its own'} for ${to.clientId}: ${used.outcome} there`,
      { jti: claims.jti ?? null, aud: claims.aud ?? null, azp: (claims.azp as string | undefined) ?? null, sid: (claims.sid as string | undefined) ?? null, iat: claims.iat ?? null, exp: claims.exp ?? null, answer: used.detail },
      new Date(used.at),
    );
    if (used.outcome !== 'allowed') throw new Error(`the token ${from.clientId} got for ${to.clientId} was not accepted there during the task (${used.detail}), so its end proves nothing`);
    a.hops.push({ token, audience: to });
    handles.push({
      name: `token ${from.clientId} ${a.mode === 'exchange' ? 'exchanged' : 'took'} for ${to.clientId} (jti ${claims.jti ?? 'none'}), introspected by ${to.clientId}`,
      check: 'derived-credentials-denied',
      probe: () => acceptedBy(ctx.client.base, a.realm, to, token),
    });
    subject = token;
  }
  return handles;
}

/** After the end: what a downstream service validating each hop's JWT locally would still accept. Evidence only. */
export async function recordLocalAcceptance(ctx: Ctx): Promise<void> {
  const a = ctx.state.get('agents') as Agents | undefined;
  for (const { token, audience } of a?.hops ?? []) await recordLocalAfterEnd(ctx.evidence, token, realmIssuer(ctx.client.base, a!.realm), audience.clientId, 'its delegated token');
}
