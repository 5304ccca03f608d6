/**
 * What a scenario's realm still holds after the task, read from Keycloak itself: its sessions,
 * online and offline, and the task user's consents. A client-credentials token opens none; a
 * user's login does, and an ended task must leave none behind (an offline session outlives every
 * logout, and so does the consent an offline token leaves).
 */
import { isNotFound, type IdpClient } from './client.ts';

interface SessionStat {
  id: string;
  clientId: string;
}

interface UserSession {
  id: string;
  username: string;
  start: number;
}

/**
 * Every session the realm holds, online and offline, read per client that has any (the realm's
 * own statistics say which): what a logout or an expiry must have ended. The realm is the
 * scenario's own, so the read never grows with what else lives on the target.
 */
export async function realmSessions(client: IdpClient, realm: string): Promise<string[]> {
  const r = encodeURIComponent(realm);
  let stats: SessionStat[];
  try {
    stats = await client.admin.call<SessionStat[]>('GET', `/${r}/client-session-stats`);
  } catch (error) {
    // The realm is gone (teardown ran, or it was never made): it holds nothing.
    if (isNotFound(error)) return [];
    throw error;
  }
  const found: string[] = [];
  for (const stat of stats) {
    for (const [kind, path] of [['session', 'user-sessions'], ['offline session', 'offline-sessions']] as const) {
      const sessions = await client.admin.call<UserSession[]>('GET', `/${r}/clients/${stat.id}/${path}?max=1000`);
      for (const s of sessions) found.push(`${kind} ${s.id} of ${s.username} via ${stat.clientId}`);
    }
  }
  return [...new Set(found)].sort();
}

interface Consent {
  clientId: string;
  grantedClientScopes?: string[];
  additionalGrants?: { key: string }[];
}

/**
 * The task user's consents, read from Keycloak: an offline token leaves one ("Offline Token")
 * that outlives the offline session's logout. Gone with the realm or the user: nothing left.
 */
export async function userConsents(client: IdpClient, realm: string, userId: string, username: string): Promise<string[]> {
  let consents: Consent[];
  try {
    consents = await client.admin.call<Consent[]>('GET', `/${encodeURIComponent(realm)}/users/${userId}/consents`);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  return consents
    .map((c) => {
      const grants = [...(c.grantedClientScopes ?? []), ...(c.additionalGrants ?? []).map((g) => g.key)];
      return `consent of ${username} to ${c.clientId}${grants.length > 0 ? ` (${grants.join(', ')})` : ''}`;
    })
    .sort();
}
