/**
 * `resource-server`: the identity provider's point of use. The privileged action is a bearer
 * token being accepted by a resource server: a confidential client of the scenario's realm that
 * asks Keycloak about each token it is shown (introspection, probes.ts). Keycloak answers
 * `active:false` to a resource server that is not in the token's audience, so a grant reaches it
 * only through an audience naming it.
 *
 * The requester is a confidential client of its own with a service account (the workload's
 * standing identity): before any grant, the token it can get by itself must not be accepted.
 * What a resource server validating JWTs locally would accept is recorded beside every verdict,
 * never as one (jwt.ts). Keycloak's own record of the grant — the token's issue, its introspection
 * here, its end — is judged from the realm's events at teardown (`audit-trail`, audit-trail.ts).
 *
 * With `existing:` the realm, the resource server and the requester are the user's own: their
 * secrets come from the variables named, nothing is created, the two clients are read before and
 * after and never changed, and no realm is deleted. The realm's sessions are then not read (their
 * number grows with everything else the realm serves): a grant source reads what its own
 * identities hold.
 *
 * Options: a second resource server the task does not need, which must refuse the task's token
 * (`privilege-width`); and broken setups for twins and mutants — the requester's own tokens carry
 * the resource server's audience, a realm-wide default client scope adds it to every client's, or
 * the realm leaves some of its events unsaved.
 */
import { z } from 'zod';
import { credentialOf, type Credential, type PointOfUse, type ProbeResult } from '../../contract.ts';
import { postForm, readBody, tokenEndpoint, type IdpClient } from '../client.ts';
import { confirmUnchanged, useExisting } from '../../existing-objects.ts';
import { envName } from '../../param-fields.ts';
import { enableRealmEvents, judgeRealmEvents, markGrantPhase, markResidueRead, readRealmEventSettings, rememberUsed } from '../audit-trail.ts';
import { realmSessions } from '../entitlements.ts';
import { audienceMapper, createClient, createRealm, deleteRealm, existingClient, type IdpContext, newSecret, secretFromEnv } from '../fixtures.ts';
import { acceptedBy, type ResourceServer } from '../probes.ts';
import { TERMS } from '../terms.ts';

const params = z
  .strictObject({
  /** The user's own realm, resource server and requester: nothing is created or changed. */
  existing: z
    .strictObject({
      realm: z.string().min(1),
      /** The resource server's client id, and the variable holding its secret (it introspects). */
      clientId: z.string().min(1),
      secretEnv: envName,
      /** The routine workload's own client (a service account), and the variable holding its secret. */
      requesterClientId: z.string().min(1),
      requesterSecretEnv: envName,
    })
    .optional(),
  /** A second resource server the task does not need: it must refuse the task's token (`privilege-width`). */
  otherResource: z.boolean().default(false),
  /** Broken setup: the requester's own client puts the resource server in its tokens' audience. */
  standingAudience: z.boolean().default(false),
  /** Broken setup: a realm default client scope puts the resource server in every client's tokens. */
  audienceInRealmDefaultScope: z.boolean().default(false),
  /** Broken setup: user event types the scenario's realm does not save (its audit trail then lacks them). */
  eventsOmitted: z.array(z.string().min(1)).default([]),
  /** Broken setup: false leaves the realm's admin events off. */
  adminEvents: z.boolean().default(true),
  })
  .superRefine((p, issue) => {
    if (!p.existing) return;
    for (const key of ['otherResource', 'standingAudience', 'audienceInRealmDefaultScope', 'eventsOmitted', 'adminEvents'] as const) {
      const broken = key === 'adminEvents' ? !p[key] : key === 'eventsOmitted' ? p[key].length > 0 : p[key];
      if (broken) issue.addIssue({ code: 'custom', path: [key], message: "not with existing: the realm and its clients are the user's own and are never changed" });
    }
  });
type Params = z.infer<typeof params>;
type Ctx = IdpContext<Params>;

export const RESOURCE_SERVER = 'resource-server';
export const OTHER_RESOURCE_SERVER = 'other-resource-server';
const REQUESTER = 'requester';

interface Fixtures {
  realm: string;
  server: ResourceServer;
  other?: ResourceServer;
  requester: { clientId: string; secret: string };
}

/** The user's own realm and clients, read and remembered as they are. */
async function useExistingRealm(ctx: Ctx, existing: NonNullable<Params['existing']>): Promise<Fixtures> {
  const { realm } = existing;
  for (const clientId of [existing.clientId, existing.requesterClientId]) {
    await useExisting(ctx, `client ${clientId} of realm ${realm}`, () => existingClient(ctx.client, realm, clientId));
  }
  return {
    realm,
    server: { clientId: existing.clientId, secret: secretFromEnv(ctx, existing.secretEnv, `resource server ${existing.clientId}`) },
    requester: { clientId: existing.requesterClientId, secret: secretFromEnv(ctx, existing.requesterSecretEnv, `requester ${existing.requesterClientId}`) },
  };
}

function fixtures(ctx: Ctx): Fixtures {
  const f = ctx.state.get('fixtures') as Fixtures | undefined;
  if (!f) throw new Error('no resource server: setup did not run');
  return f;
}

function unusable(credential: Credential): ProbeResult {
  return { outcome: 'unknown', at: new Date().toISOString(), detail: `idp/resource-server cannot use a ${credential.type} credential (it accepts bearer-token)` };
}

/** Ask the resource server about the token. */
function accepted(client: IdpClient, f: Fixtures, server: ResourceServer, token: string): Promise<ProbeResult> {
  return acceptedBy(client.base, f.realm, server, token);
}

/** Put the resource server's audience into a default client scope of the realm, before any client exists. */
async function audienceForEveryClient(ctx: Ctx, realm: string): Promise<void> {
  const r = encodeURIComponent(realm);
  const scopeId = await ctx.client.admin.create(`/${r}/client-scopes`, { name: 'resource-audience', protocol: 'openid-connect', protocolMappers: [audienceMapper(RESOURCE_SERVER)] });
  await ctx.client.admin.call('PUT', `/${r}/default-default-client-scopes/${scopeId}`);
  ctx.evidence.record("broken setup: a realm default client scope puts the resource server in every client's tokens", { scope: 'resource-audience', audience: RESOURCE_SERVER });
}

export const resourceServerPoint: PointOfUse<Params, IdpClient> = {
  title: 'A bearer token accepted by a resource server (token introspection)',
  params,
  accepts: ['bearer-token'],
  offers: [TERMS.realm, TERMS.audience],
  // Keycloak's own events of the grant, wherever the realm saves them (audit-trail.ts).
  checks: (p) => ['audit-trail', ...(p.otherResource ? ['privilege-width'] : [])],
  remediation: {
    'zero-standing-privilege':
      "Keep the resource server out of the audience of every client's own tokens (no audience mapper on the workload's client, none in a realm default client scope): only a grant's client may name it",
    'privilege-width': "Name only the task's resource server in the granting client's audience mapper (included.client.audience), never a mapper or scope that adds every client",
    'no-residue': "End the task's sessions (admin logout of the user or the client's sessions) and revoke offline tokens when the task ends",
    'audit-trail':
      "Save the realm's events (Realm settings > Events: user events on with LOGIN, CLIENT_LOGIN, TOKEN_EXCHANGE, REFRESH_TOKEN, INTROSPECT_TOKEN(_ERROR), REVOKE_GRANT and LOGOUT among the saved types; admin events on, with details), give the reviewer's credential view-events, and end grants with a call Keycloak records (token revocation, admin logout, session deletion)",
  },

  async setup(ctx) {
    const existing = ctx.params.existing;
    if (existing) {
      const f = await useExistingRealm(ctx, existing);
      await readRealmEventSettings(ctx, f.realm);
      ctx.state.set('fixtures', f);
      return { description: `be accepted by resource server ${f.server.clientId} of realm ${f.realm}`, terms: { [TERMS.realm]: f.realm, [TERMS.audience]: f.server.clientId } };
    }
    const realm = ctx.prefix;
    await createRealm(ctx, realm);
    // Before anything else is made in the realm: every call of the scenario is then in its events.
    await enableRealmEvents(ctx, realm, { omit: ctx.params.eventsOmitted, adminEvents: ctx.params.adminEvents });
    if (ctx.params.audienceInRealmDefaultScope) await audienceForEveryClient(ctx, realm);
    const server: ResourceServer = { clientId: RESOURCE_SERVER, secret: newSecret(ctx) };
    await createClient(ctx, realm, { clientId: server.clientId, secret: server.secret });
    const f: Fixtures = { realm, server, requester: { clientId: REQUESTER, secret: newSecret(ctx) } };
    if (ctx.params.otherResource) {
      f.other = { clientId: OTHER_RESOURCE_SERVER, secret: newSecret(ctx) };
      await createClient(ctx, realm, { clientId: f.other.clientId, secret: f.other.secret });
    }
    await createClient(ctx, realm, { ...f.requester, serviceAccount: true, audiences: ctx.params.standingAudience ? [RESOURCE_SERVER] : [] });
    ctx.state.set('fixtures', f);
    ctx.evidence.record('realm, resource server and requester client created', { realm, resourceServer: server.clientId, otherResourceServer: f.other?.clientId ?? null, requester: REQUESTER });
    if (ctx.params.standingAudience) ctx.evidence.record("broken setup: the requester's own tokens carry the resource server's audience", { requester: REQUESTER, audience: RESOURCE_SERVER });
    return { description: `be accepted by resource server ${server.clientId} of realm ${realm}`, terms: { [TERMS.realm]: realm, [TERMS.audience]: server.clientId } };
  },

  entitlements: async (ctx) => {
    markResidueRead(ctx);
    return ctx.params.existing ? [] : realmSessions(ctx.client, ctx.prefix);
  },

  async probeStanding(ctx) {
    markGrantPhase(ctx);
    const f = fixtures(ctx);
    // The requester's standing identity gets a token by itself: the resource server must not accept it.
    let token: unknown;
    try {
      const response = await postForm(tokenEndpoint(ctx.client.base, f.realm), { grant_type: 'client_credentials', client_id: f.requester.clientId, client_secret: f.requester.secret }, { fresh: true });
      token = ((await readBody(response)) as { access_token?: unknown } | undefined)?.access_token;
      if (typeof token !== 'string') return { outcome: 'unknown', at: new Date().toISOString(), detail: `the requester could not get a token of its own to try: HTTP ${response.status}` };
    } catch (error) {
      return { outcome: 'unknown', at: new Date().toISOString(), detail: `the requester could not get a token of its own to try: ${(error as Error).message}` };
    }
    ctx.secrets.add(token);
    return accepted(ctx.client, f, f.server, token);
  },

  async probe(ctx, credential) {
    const bearer = credentialOf(credential, 'bearer-token');
    return bearer ? accepted(ctx.client, fixtures(ctx), fixtures(ctx).server, bearer.token) : unusable(credential);
  },

  async use(ctx, credential) {
    const bearer = credentialOf(credential, 'bearer-token');
    if (!bearer) return unusable(credential);
    const f = fixtures(ctx);
    const used = await accepted(ctx.client, f, f.server, bearer.token);
    if (used.outcome === 'allowed') rememberUsed(ctx, bearer.token);
    if (f.other && used.outcome === 'allowed') {
      const other = await accepted(ctx.client, f, f.other, bearer.token);
      ctx.evidence.record(`the task's token shown to ${f.other.clientId}, which the task does not need: ${other.outcome}`, { answer: other.detail }, new Date(other.at));
      ctx.report({
        check: 'privilege-width',
        verdict: other.outcome === 'denied' ? 'pass' : other.outcome === 'allowed' ? 'fail' : 'inconclusive',
        detail:
          other.outcome === 'denied'
            ? `the token meant for ${f.server.clientId} is refused by ${f.other.clientId} (${other.detail})`
            : other.outcome === 'allowed'
              ? `the token meant for ${f.server.clientId} is also accepted by ${f.other.clientId}, which the task does not need (${other.detail})`
              : `could not tell whether ${f.other.clientId} accepts the token (${other.detail})`,
      });
    } else if (f.other) {
      ctx.report({ check: 'privilege-width', verdict: 'inconclusive', detail: `not tested: the task's own resource server did not accept the token (${used.detail})` });
    }
    return used;
  },

  async teardown(ctx) {
    const f = ctx.state.get('fixtures') as Fixtures | undefined;
    try {
      if (f) await judgeRealmEvents(ctx, f.realm, f.server.clientId);
    } catch (error) {
      ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `the realm's events could not be judged: ${(error as Error).message}` });
    }
    if (!ctx.params.existing) return deleteRealm(ctx.client, ctx.prefix);
    await confirmUnchanged(ctx);
    return [];
  },
};
