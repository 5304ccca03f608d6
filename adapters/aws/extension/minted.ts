/**
 * What the holder minted with its own credential (a session from GetSessionToken,
 * GetFederationToken or role chaining): kept in the scenario's state so the mechanism's
 * `entitlements` counts it as residue while it still reaches the task's privilege. IAM lists no
 * sessions, so the harness remembers the ones it saw issued; access keys and login profiles need
 * no such memory, IAM itself lists them on the user (iam-read.ts).
 */
import type { ReuseHandle } from '../../contract.ts';
import type { Credentials } from '../client.ts';
import { type AwsContext, readObject } from '../fixtures.ts';

export interface MintedSession {
  /** "GetSessionToken session ASIA… of jitc-…worker": ids only, never a secret. */
  label: string;
  credentials: Credentials;
}

const STATE_KEY = 'aws:minted-sessions';

export function mintedSessions(ctx: AwsContext): MintedSession[] {
  return (ctx.state.get(STATE_KEY) as MintedSession[] | undefined) ?? [];
}

/** Remember a minted session; its secret parts are registered for redaction the moment it exists. */
export function rememberSession(ctx: AwsContext, session: MintedSession): void {
  ctx.secrets.add(session.credentials.secretAccessKey);
  if (session.credentials.sessionToken) ctx.secrets.add(session.credentials.sessionToken);
  ctx.state.set(STATE_KEY, [...mintedSessions(ctx), session]);
}

/**
 * Minted sessions that still reach the task's privilege, as entitlements. A session that no longer
 * may read the task's object holds nothing of the grant; one whose answer cannot be read is
 * listed with the doubt, never dropped.
 */
export async function mintedSessionEntitlements(ctx: AwsContext): Promise<string[]> {
  const out: string[] = [];
  for (const session of mintedSessions(ctx)) {
    const reach = await readObject(ctx, session.credentials);
    if (reach.outcome === 'allowed') out.push(`minted-session:${session.label}`);
    else if (reach.outcome === 'unknown') out.push(`minted-session:${session.label} (still reaches the task's object? unknown: ${reach.detail})`);
  }
  return out;
}

/** The handle the engine probes after the end for a minted credential: the task's action with it. */
export function mintedHandle(ctx: AwsContext, name: string, credentials: Credentials): ReuseHandle {
  return { name, check: 'derived-credentials-denied', probe: (node) => readObject(ctx, credentials, node) };
}
