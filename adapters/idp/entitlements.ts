/**
 * What a scenario's realm still holds after the task, read from Keycloak itself: its sessions,
 * online and offline. A client-credentials token opens none; a user's login does, and an ended
 * task must leave none behind (an offline session outlives every logout).
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
