/**
 * How the holder of a Vault token may try to stretch its own grant, whoever issued the token (the
 * token broker, an AppRole login, the token unwrapped from a wrapped response or a plain one handed
 * over instead, or a user's broker, whose token the point of use hands here). Every attempt is made
 * with the held token itself, never the admin's:
 *
 * - renew-self, asking for an increment far past the approval window;
 * - a child token (auth/token/create) with a TTL far past the window;
 * - an orphan token (auth/token/create-orphan) with a TTL far past the window.
 *
 * The same calls serve both moments: inside the window they aim past its end; after the end they
 * try to bring the grant back. `refused` is read only from Vault's own refusal (see probes.ts);
 * how far an extension reaches is what Vault states in a lookup afterwards, and a token a holder
 * managed to mint is handed back to be probed after the end — at the point of use, like the grant
 * itself — and counted as residue while it lives. See docs/architecture.md ("holder-cannot-extend").
 */
import {
  bornCredential,
  type ExtensionAttempt,
  type ExtensionMoment,
  type ExtensionResult,
  type GrantContext,
  type GrantRecord,
  type PointOfUseProbe,
  type ReuseHandle,
  type ScenarioContext,
} from '../contract.ts';
import { effectivePolicies, lookupAccessor, type TokenInfo, type VaultClient } from './client.ts';
import { GONE, readExtensionRefusal, readRefusal, saysGone } from './probes.ts';
import { tokenMeta, trackAccessor, type VaultToken } from './tokens.ts';

/** A grant source's context on Vault. */
export type VaultGrantContext<P = unknown> = GrantContext<P, VaultClient>;

/**
 * What an attempt needs: a half's context (a grant source's, or the point of use's own for a
 * credential a user's broker issued), and the privileged action at the point of use, with which
 * whatever the holder minted is probed.
 */
export type VaultHolderContext = ScenarioContext<unknown, VaultClient> & { pointOfUse: Pick<PointOfUseProbe, 'probe'> };

/** A Vault token as its holder holds it. Batch tokens have no accessor (''). */
export interface HeldToken {
  token: string;
  accessor: string;
}

/** The increment an attempt asks for: far past any window it could be judged against. */
export function extensionSeconds(windowSeconds: number): number {
  return Math.max(86_400, Math.ceil(windowSeconds) * 100);
}

const MINTED = 'mintedAccessors';

/**
 * The attempts for one held token. `grant` is the grant whose credential this token is: a renewal
 * inside the window moves the expiry the target states for it, as any renewal does, so the end is
 * judged from where the target now says it is (never past the window: the engine bounds it there).
 */
export function vaultTokenExtensions(ctx: VaultHolderContext, held: HeldToken, grant?: GrantRecord): ExtensionAttempt[] {
  const ask = extensionSeconds(ctx.task.windowSeconds);
  return [
    {
      name: `renew-self by ${ask} s`,
      attempt: async (moment) => {
        const result = await renewSelf(ctx, held, ask);
        if (grant && moment === 'inside-window' && result.outcome === 'extended' && result.reachesUntil !== undefined) {
          grant.expiresAt = result.reachesUntil;
          grant.attributes.expiresAfterRenewal = result.reachesUntil;
        }
        return result;
      },
      independent: true,
    },
    { name: `child token with a ${ask} s TTL`, attempt: (moment) => mint(ctx, held, ask, 'auth/token/create', moment), independent: true },
    { name: `orphan token (create-orphan) with a ${ask} s TTL`, attempt: (moment) => mint(ctx, held, ask, 'auth/token/create-orphan', moment), independent: true },
  ];
}

async function renewSelf(ctx: VaultHolderContext, held: HeldToken, ask: number): Promise<ExtensionResult> {
  let granted: number;
  let warnings: string[];
  try {
    const answer = await ctx.client.api.send<{ auth: { lease_duration: number }; warnings: string[] | null }>('POST', 'auth/token/renew-self', {
      body: { increment: `${ask}s` },
      token: held.token,
    });
    granted = answer.auth.lease_duration;
    warnings = answer.warnings ?? [];
  } catch (error) {
    return declined(error);
  }
  const at = new Date().toISOString();
  const said = `Vault renewed the token: asked ${ask} s, granted ${granted} s${warnings.length > 0 ? ` (${warnings.join('; ')})` : ''}`;
  const reach = await statedReach(ctx, held);
  if ('unread' in reach) return { outcome: 'unknown', at, detail: `${said}, but how far it now reaches could not be read: ${reach.unread}` };
  return { outcome: 'extended', at, detail: `${said}; ${describeReach(reach.until)}`, reachesUntil: reach.until };
}

async function mint(ctx: VaultHolderContext, held: HeldToken, ask: number, path: 'auth/token/create' | 'auth/token/create-orphan', moment: ExtensionMoment): Promise<ExtensionResult> {
  let minted: VaultToken;
  try {
    const answer = await ctx.client.api.send<{ auth: { client_token: string; accessor: string } }>('POST', path, {
      body: { ttl: `${ask}s`, renewable: true, display_name: `${ctx.prefix}-minted`, meta: { ...tokenMeta(ctx), jitc_role: 'minted by the holder' } },
      token: held.token,
    });
    // Born (registered for redaction) before anything else can fail; tracked next: it must be probed and removed.
    minted = bornCredential(ctx.secrets, { type: 'vault-token', token: answer.auth.client_token, accessor: answer.auth.accessor });
  } catch (error) {
    return declined(error);
  }
  const at = new Date().toISOString();
  trackAccessor(ctx, minted.accessor);
  const list = (ctx.state.get(MINTED) as string[] | undefined) ?? [];
  ctx.state.set(MINTED, [...list, minted.accessor]);
  const kind = path.endsWith('orphan') ? 'orphan token' : 'child token';
  const handle: ReuseHandle = {
    name: `${kind} the holder minted ${moment === 'inside-window' ? 'during the task' : 'after the end'} (accessor ${minted.accessor})`,
    check: 'derived-credentials-denied',
    probe: (node) => ctx.pointOfUse.probe(minted, node),
  };
  const said = `Vault issued ${kind === 'orphan token' ? 'an' : 'a'} ${kind} to the holder (accessor ${minted.accessor})`;
  const own = await statedReach(ctx, minted);
  if ('unread' in own) return { outcome: 'unknown', at, detail: `${said}, but its expiry could not be read: ${own.unread}`, minted: [handle] };
  ctx.evidence.record(`the holder minted a ${kind} with its grant`, { accessor: minted.accessor, orphan: own.info.orphan, expiresAt: own.info.expire_time, moment });
  let until = own.until;
  if (!own.info.orphan) {
    // Vault revokes a child with its parent, on expiry as on revocation: it reaches no further than the parent.
    const parent = await statedReach(ctx, held);
    if (!('unread' in parent)) until = earlier(until, parent.until);
  }
  return { outcome: 'extended', at, detail: `${said}; ${describeReach(until)}`, reachesUntil: until, minted: [handle] };
}

/** Until when Vault says a token's privilege reaches: null when it states no end (no expiry, or periodic without a cap). */
async function statedReach(ctx: ScenarioContext<unknown, VaultClient>, token: HeldToken): Promise<{ until: string | null; info: TokenInfo } | { unread: string }> {
  let info: TokenInfo;
  try {
    info =
      token.accessor === ''
        ? (await ctx.client.api.send<{ data: TokenInfo }>('POST', 'auth/token/lookup', { body: { token: token.token } })).data
        : await lookupAccessor(ctx.client.api, token.accessor);
  } catch (error) {
    return { unread: readRefusal(error).detail };
  }
  const renewsForever = (info.period ?? 0) > 0 && info.explicit_max_ttl === 0;
  return { until: renewsForever || info.expire_time === null ? null : new Date(info.expire_time).toISOString(), info };
}

function earlier(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return Date.parse(a) <= Date.parse(b) ? a : b;
}

function describeReach(until: string | null): string {
  return until === null ? 'Vault states no end for it' : `it now reaches until ${until}`;
}

function declined(error: unknown): ExtensionResult {
  const reading = readExtensionRefusal(error);
  return { outcome: reading.denied ? 'refused' : 'unknown', at: new Date().toISOString(), detail: reading.detail };
}

/**
 * The tokens a holder minted that Vault still knows, as entitlements: residue while they live,
 * whatever policies they carry. One that cannot be read is reported as such, never dropped.
 * `besidePolicy`: leave out the tokens carrying this policy (directly or through their identity),
 * which the point of use already lists under the same name as holding its resource.
 */
export async function mintedEntitlements(ctx: ScenarioContext<unknown, VaultClient>, besidePolicy?: string): Promise<string[]> {
  const found: string[] = [];
  for (const accessor of (ctx.state.get(MINTED) as string[] | undefined) ?? []) {
    try {
      const info = await lookupAccessor(ctx.client.api, accessor);
      if (besidePolicy === undefined || !effectivePolicies(info).includes(besidePolicy)) found.push(`token:${accessor}`);
    } catch (error) {
      if (!saysGone(error, GONE.accessor)) found.push(`unreadable token:${accessor} (${readRefusal(error).detail})`);
    }
  }
  return found;
}
