/**
 * A direct-grant authentication flow of the scenario's realm that keeps a client to the identities
 * meant for it, enforced by Keycloak itself at the token endpoint: after the username and password,
 * a conditional step ("Condition - user role", negated) sends every user without the path's role
 * to "Deny access"; optionally a "User Session Count Limiter" refuses a login while the user
 * already has as many sessions on the client as allowed. Both answer with Keycloak's error page
 * carrying the message configured here, which is how a refusal is recognised (probes.ts).
 */
import type { IdpContext } from './fixtures.ts';

export interface PathFlowSpec {
  alias: string;
  /** Realm role a user must hold to get past the flow; absent (broken): nobody is denied. */
  requiredRole?: string;
  denyMessage: string;
  /** Sessions a user may have open on the client at once, and the limiter's message; absent: no limit. */
  sessionLimit?: { max: number; message: string };
}

interface Execution {
  id: string;
  providerId?: string;
  displayName: string;
  requirement: string;
}

/** Create the flow; returns its id, for a client's `authenticationFlowBindingOverrides.direct_grant`. */
export async function createPathFlow(ctx: IdpContext<unknown>, realm: string, spec: PathFlowSpec): Promise<string> {
  const r = `/${encodeURIComponent(realm)}/authentication`;
  const api = ctx.client.admin;
  const flow = await api.create(`${r}/flows`, { alias: spec.alias, providerId: 'basic-flow', topLevel: true, builtIn: false, description: 'direct grant kept to the identities of one client' });
  const top = `${r}/flows/${encodeURIComponent(spec.alias)}/executions`;
  for (const provider of ['direct-grant-validate-username', 'direct-grant-validate-password']) await api.call('POST', `${top}/execution`, { provider });
  const gate = `${spec.alias} gate`;
  if (spec.requiredRole) {
    await api.call('POST', `${top}/flow`, { alias: gate, type: 'basic-flow', provider: 'basic-flow', description: 'deny users without the role' });
    const inner = `${r}/flows/${encodeURIComponent(gate)}/executions`;
    for (const provider of ['conditional-user-role', 'deny-access-authenticator']) await api.call('POST', `${inner}/execution`, { provider });
  }
  if (spec.sessionLimit) await api.call('POST', `${top}/execution`, { provider: 'user-session-limits' });
  // Executions start DISABLED (or REQUIRED for the username); each gets its requirement and config here.
  for (const e of await api.call<Execution[]>('GET', top)) {
    const requirement = e.displayName === gate ? 'CONDITIONAL' : 'REQUIRED';
    if (e.requirement !== requirement) await api.call('PUT', top, { ...e, requirement });
    const config = configOf(e.providerId, spec);
    if (config) await api.call('POST', `${r}/executions/${e.id}/config`, { alias: `${spec.alias} ${e.providerId}`, config });
  }
  return flow;
}

function configOf(provider: string | undefined, spec: PathFlowSpec): Record<string, string> | undefined {
  if (provider === 'conditional-user-role' && spec.requiredRole) return { condUserRole: spec.requiredRole, negate: 'true' };
  if (provider === 'deny-access-authenticator') return { denyErrorMessage: spec.denyMessage };
  if (provider === 'user-session-limits' && spec.sessionLimit) return { userRealmLimit: '0', userClientLimit: String(spec.sessionLimit.max), behavior: 'Deny new session', errorMessage: spec.sessionLimit.message };
  return undefined;
}
