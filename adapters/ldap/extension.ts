/**
 * How the holder of an LDAP bind may try to stretch its own grant, tried with that bind and
 * nothing else (never the broker's): one module for the credential type, so every grant source that
 * hands out a bind — a temporary account, a requester granted through a group — is tried alike.
 *
 * - refresh its own entry (RFC 2589 Refresh, 1.3.6.1.4.1.1466.101.119.1) far past the window,
 *   where the account is itself a dynamic object: the grant then lives as long as it asks;
 * - refresh the dynamic grant group that holds its membership, likewise;
 * - write itself as a plain member value, which no TTL ends, into each group on the path to the
 *   privilege: the group the ACL grants through, a nested team group (where the grant is a membership).
 * Inside the window each attempt asks for a day (well past a short window's end); after the end it
 * asks the same to bring the grant back. What counts as `refused` is said in probes.ts: invalidCredentials to the
 * holder's bind, insufficientAccessRights or noSuchObject to the operation; anything else is
 * `unknown`. A refresh that succeeds reaches as far as the directory then states (entryExpireTimestamp,
 * read back); a member value states no end.
 */
import { Attribute, Change, type Client } from 'ldapts';
import type { ExtensionAttempt, ExtensionMoment, ExtensionResult } from '../contract.ts';
import type { LdapClient } from './client.ts';
import { refreshTtl } from './dynamic-objects.ts';
import { lifetimeOf } from './fixtures.ts';
import { describeLdapError } from './probes.ts';

/** The holder's bind, as the extension attempts need it. */
export interface Holder {
  dn: string;
  password: string;
}

export interface BindGrant {
  holder: Holder;
  /** When the approval window closes (epoch ms): inside it, every attempt aims past this. */
  windowEndsAt: number;
  /** The holder's own entry is a dynamic object (a temporary account): it may try to refresh itself. */
  ownEntryDynamic: boolean;
  /** Dynamic groups whose membership carries the grant: the holder may try to refresh them. */
  dynamicGroups: string[];
  /**
   * Groups on the path to the privilege (the group the ACL grants through, a nested team group),
   * where a plain member value of its own is a grant without end; none where the account itself is the grant.
   */
  grantGroups?: string[];
  /** Told of a member value the holder managed to write, for a half that must remove it (its holder is not one of its own entries). */
  onWritten?: (group: string, member: string) => void;
}

/** What the holder asks for: a day, far past any short window and the most slapd's dds allows by default. */
const ASK_SECONDS = 86_400;
/** For a window longer than that, the ask still ends this far past the window's end. */
const LONG_WINDOW_MARGIN_SECONDS = 3600;
/** RFC 2589 §4.1: requestTtl lies between 1 and 31557600 seconds. */
const RFC2589_MAX_TTL_SECONDS = 31_557_600;
/** After a "TTL too large" answer, the second ask: still past the window's end, by this much. */
const SECOND_ASK_MARGIN_SECONDS = 60;

type Operation = (session: Client) => Promise<{ detail: string; reachesUntil?: string | null }>;

/** RFC 2589 refresh or membership write answered: refused only on the codes probes.ts names. */
function readAnswer(error: unknown, what: string, at: string): ExtensionResult {
  const answer = describeLdapError(error);
  if (answer.kind === 'result' && (answer.code === 50 || answer.code === 32)) return { outcome: 'refused', at, detail: `${what}: refused, ${answer.text}` };
  const why = answer.kind === 'result' ? `${answer.text}, which is not a refusal of the holder` : `no answer: ${answer.text}`;
  return { outcome: 'unknown', at, detail: `${what}: ${why}` };
}

/** Bind a NEW connection as the holder and run one operation on it; `what` (the entry it aims at) heads the detail. */
async function asHolder(client: LdapClient, holder: Holder, what: string, operation: Operation): Promise<ExtensionResult> {
  const session = client.open();
  try {
    try {
      await session.bind(holder.dn, holder.password);
    } catch (error) {
      const at = new Date().toISOString();
      const answer = describeLdapError(error);
      if (answer.kind === 'result' && answer.code === 49) return { outcome: 'refused', at, detail: `${what}: the holder's bind is refused, ${answer.text}` };
      return { outcome: 'unknown', at, detail: `${what}: the holder's bind got ${answer.kind === 'result' ? answer.text : `no answer: ${answer.text}`}` };
    }
    try {
      const done = await operation(session);
      return { outcome: 'extended', at: new Date().toISOString(), ...done, detail: `${what}: ${done.detail}` };
    } catch (error) {
      return readAnswer(error, what, new Date().toISOString());
    }
  } finally {
    await session.unbind().catch(() => undefined);
  }
}

/** The TTL asked for: a day (an hour past the window's end if the window is longer), inside or after it. */
function askFor(grant: BindGrant, moment: ExtensionMoment): number {
  const left = moment === 'inside-window' ? Math.max(0, Math.ceil((grant.windowEndsAt - Date.now()) / 1000)) : 0;
  return Math.min(RFC2589_MAX_TTL_SECONDS, Math.max(ASK_SECONDS, left + LONG_WINDOW_MARGIN_SECONDS));
}

/**
 * Refresh `dn` as the holder. A directory whose maximum is lower answers sizeLimitExceeded
 * (RFC 2589 §4.2) before it looks at who asks; then the holder asks again, on the same bind, for
 * just past the window's end, which the maximum must allow if the grant itself fitted under it.
 */
function refreshAttempt(client: LdapClient, grant: BindGrant, dn: string, whose: string): ExtensionAttempt {
  const name = `refresh ${whose} entryTtl (RFC 2589) past the window`;
  return {
    name,
    attempt: (moment) => {
      const first = askFor(grant, moment);
      return asHolder(client, grant.holder, dn, async (session) => {
        let asked = first;
        try {
          await refreshTtl(session, dn, first);
        } catch (error) {
          const answer = describeLdapError(error);
          if (answer.kind !== 'result' || answer.code !== 4) throw error;
          asked = Math.ceil((Math.max(grant.windowEndsAt, Date.now()) - Date.now()) / 1000) + SECOND_ASK_MARGIN_SECONDS;
          await refreshTtl(session, dn, asked);
        }
        const retried = asked === first ? '' : ` (${first} s was too large for it)`;
        return { detail: `the directory accepted a refresh to ${asked} s${retried}`, reachesUntil: await reachOf(client, dn, asked) };
      });
    },
  };
}

/**
 * Until when the refreshed entry now lives, as the directory states it (read back by the broker),
 * never earlier than the ask: RFC 2589 §4.2 forbids granting less than was asked, and the broker's
 * read may reach a replica the holder's refresh has not reached yet — an old, shorter expiry read
 * there must not turn a day-long extension into one "within the window".
 */
async function reachOf(client: LdapClient, dn: string, askedSeconds: number): Promise<string> {
  const floor = new Date(Date.now() + askedSeconds * 1000).toISOString();
  try {
    const stated = (await lifetimeOf(client, dn)).expiresAt;
    return stated !== null && Date.parse(stated) > Date.parse(floor) ? stated : floor;
  } catch {
    return floor;
  }
}

function membershipAttempt(client: LdapClient, grant: BindGrant, group: string): ExtensionAttempt {
  const name = `write itself into ${group} as a plain member value`;
  return {
    name,
    attempt: () =>
      asHolder(client, grant.holder, group, async (session) => {
        await session.modify(group, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [grant.holder.dn] }) }));
        grant.onWritten?.(group, grant.holder.dn);
        // A plain member value carries no TTL: nothing but a removal ends it.
        return { detail: `the directory added ${grant.holder.dn} as a member, with no end`, reachesUntil: null };
      }),
  };
}

/** The extension attempts for a grant held as an LDAP bind. */
export function bindExtensions(client: LdapClient, grant: BindGrant): ExtensionAttempt[] {
  return [
    ...(grant.ownEntryDynamic ? [refreshAttempt(client, grant, grant.holder.dn, 'its own')] : []),
    ...grant.dynamicGroups.map((group) => refreshAttempt(client, grant, group, 'the grant group')),
    ...[...new Set(grant.grantGroups ?? [])].map((group) => membershipAttempt(client, grant, group)),
  ];
}

/** What the holder's bind could stretch, known only once the directory has been read. */
export type BindReach = Pick<BindGrant, 'ownEntryDynamic' | 'dynamicGroups' | 'grantGroups'>;

/**
 * One attempt for a bind a point of use was handed by a user's broker, whose paths to the privilege
 * are read from the directory only when the attempt runs (`reach`): every refresh and membership
 * write of {@link bindExtensions} for those paths, tried in turn. It extended when any of them did
 * (reaching as far as the furthest), is `unknown` when any answer could not be read, and `refused`
 * only when the directory refused every one.
 */
export function handedBindExtension(client: LdapClient, holder: Holder, windowEndsAt: number, reach: () => Promise<BindReach>, onWritten: BindGrant['onWritten']): ExtensionAttempt {
  return {
    name: 'outlast the grant with its own bind: refresh each dynamic entry on its path past the window (RFC 2589), write itself into each group on its path',
    async attempt(moment) {
      let found: BindReach;
      try {
        found = await reach();
      } catch (error) {
        return { outcome: 'unknown', at: new Date().toISOString(), detail: `its paths to the privilege could not be read: ${describeLdapError(error).text}` };
      }
      const attempts = bindExtensions(client, { holder, windowEndsAt, ...found, ...(onWritten ? { onWritten } : {}) });
      const results: (ExtensionResult & { name: string })[] = [];
      for (const a of attempts) results.push({ ...(await a.attempt(moment)), name: a.name });
      const extended = results.filter((r) => r.outcome === 'extended');
      const outcome: ExtensionResult['outcome'] = extended.length > 0 ? 'extended' : results.some((r) => r.outcome === 'unknown') || results.length === 0 ? 'unknown' : 'refused';
      const detail = results.length === 0 ? 'nothing on its path to try' : results.map((r) => `${r.name}: ${r.outcome} (${r.detail})`).join('; ');
      const at = results.map((r) => r.at).sort().at(-1) ?? new Date().toISOString();
      if (outcome !== 'extended') return { outcome, at, detail };
      const reaches = extended.map((r) => r.reachesUntil ?? null);
      const reachesUntil = reaches.includes(null) ? null : (reaches as string[]).reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a));
      return { outcome, at, detail, reachesUntil };
    },
  };
}
