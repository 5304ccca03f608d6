/**
 * What the holder minted with its own credential (a session from GetSessionToken,
 * GetFederationToken or role chaining): kept in the grant source's state so its `entitlements`
 * count it as residue while it still reaches the task's privilege at the point of use. IAM lists
 * no sessions, so the harness remembers the ones it saw issued; access keys and login profiles need
 * no such memory, IAM itself lists them on the user (iam-read.ts).
 */
import type { ReuseHandle } from '../../contract.ts';
import type { AwsHolderContext } from '../context.ts';
import type { AwsKeys } from '../credentials.ts';

export interface MintedSession {
  /** "GetSessionToken session ASIA… of jitc-…worker": ids only, never a secret. */
  label: string;
  /** Born where AWS issued it (bornKeys), so its secret parts are already registered. */
  credential: AwsKeys;
}

const STATE_KEY = 'aws:minted-sessions';

export function mintedSessions(ctx: AwsHolderContext): MintedSession[] {
  return (ctx.state.get(STATE_KEY) as MintedSession[] | undefined) ?? [];
}

/** Remember a minted session for the residue reading. */
export function rememberSession(ctx: AwsHolderContext, session: MintedSession): void {
  ctx.state.set(STATE_KEY, [...mintedSessions(ctx), session]);
}

/**
 * Minted sessions that still reach the task's privilege, as entitlements. A session that no longer
 * may do the task's action holds nothing of the grant; one whose answer cannot be read is listed
 * with the doubt, never dropped.
 */
export async function mintedSessionEntitlements(ctx: AwsHolderContext): Promise<string[]> {
  const out: string[] = [];
  for (const session of mintedSessions(ctx)) {
    const reach = await ctx.pointOfUse.probe(session.credential);
    if (reach.outcome === 'allowed') out.push(`minted-session:${session.label}`);
    else if (reach.outcome === 'unknown') out.push(`minted-session:${session.label} (still reaches the task's privilege? unknown: ${reach.detail})`);
  }
  return out;
}

/** The handle the engine probes after the end for a minted credential: the task's action with it, at the point of use. */
export function mintedHandle(ctx: AwsHolderContext, name: string, credential: AwsKeys): ReuseHandle {
  return { name, check: 'derived-credentials-denied', probe: (node) => ctx.pointOfUse.probe(credential, node) };
}
