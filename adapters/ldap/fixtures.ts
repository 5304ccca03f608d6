/**
 * What every directory half builds on: names carrying the scenario prefix, identities whose
 * passwords are born as credentials, groups, dynamic entries, and a teardown that removes what
 * carries the prefix (entries and membership values), read from the directory rather than remembered.
 */
import { Attribute } from 'ldapts';
import { z } from 'zod';
import { bornCredential, type CredentialOf, type GrantContext, type ScenarioContext } from '../contract.ts';
import { escapeRdnValue, type LdapClient, scenarioName, values } from './client.ts';
import { generalizedTimeToIso, refreshTtl } from './dynamic-objects.ts';
import { newPassword, sshaHash, unicodePwd } from './passwords.ts';
import { sweepPrefix } from './cleanup.ts';

/**
 * Parameters both directory grant sources accept: where the broker creates its groups. The point
 * of use has its own (requester, sessions, the audit log's patience).
 */
export const brokerParams = z.strictObject({
  /**
   * Where the scenario's own groups live: `groups`; `unaudited` (broken), a subtree whose
   * deletions the directory's audit log leaves out; `self-service` (broken), a subtree whose ACL lets a group's members refresh it.
   */
  groupsIn: z.enum(['groups', 'unaudited', 'self-service']).default('groups'),
});
export type BrokerParams = z.infer<typeof brokerParams>;

/** What a directory half works with: its own params, the directory client. */
export type LdapContext<P = unknown> = ScenarioContext<P, LdapClient>;
/** What a directory grant source works with: also the point of use's resource and probe. */
export type LdapGrantContext<P = unknown> = GrantContext<P, LdapClient>;

/** An identity of the directory is its bind: the same value a grant hands on as its credential. */
export type Identity = CredentialOf<'ldap-bind'>;

/**
 * The term a grant source grants by, as the point of use named it. A missing term is a pairing
 * the load-time check should have refused, so it is an error, not a guess from the layout.
 */
export function termOf(ctx: LdapGrantContext, term: string): string {
  const value = ctx.resource.terms[term];
  if (!value) throw new Error(`the point of use ${ctx.pointOfUse.name} offers no ${term}`);
  return value;
}

/** The requester's entry, when the point of use made one: that half's to list and remove, not a grant source's. */
export function requesterEntries(ctx: LdapGrantContext): string[] {
  const who = ctx.resource.requester;
  return who?.type === 'ldap-bind' ? [who.dn] : [];
}

/** Two DNs name the same entry (attribute names and values compared without case, as the directory does). */
export function sameDn(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export function groupsBase(ctx: LdapContext<BrokerParams>): string {
  if (ctx.params.groupsIn === 'groups') return ctx.client.layout.groupsDn;
  return brokenSubtree(ctx.client, ctx.params.groupsIn, 'groupsIn');
}

/** A subtree only the local target has, for a broken setup; a clear error where it is missing. */
export function brokenSubtree(client: LdapClient, which: 'unaudited' | 'self-service', param: string): string {
  const dn = which === 'unaudited' ? client.layout.unauditedDn : client.layout.selfServiceDn;
  if (!dn) throw new Error(`this target has no ${which} subtree (${param}: ${which} needs the local target)`);
  return dn;
}

/** Where each half keeps the names it gave, for its teardown to find values pointing at them after the entries are gone. */
const NAMED = 'ldapNamed';

export function named(ctx: LdapContext, suffix: string, base: string): string {
  const dn = `cn=${escapeRdnValue(scenarioName(ctx.prefix, suffix))},${base}`;
  const names = (ctx.state.get(NAMED) as Set<string> | undefined) ?? new Set<string>();
  ctx.state.set(NAMED, names.add(dn));
  return dn;
}

/** A password attribute as the directory wants it: hashed userPassword, or AD's unicodePwd. */
function passwordAttribute(client: LdapClient, password: string): Attribute {
  if (client.layout.passwordAttribute === 'unicodePwd') return new Attribute({ type: 'unicodePwd', values: [unicodePwd(password)] });
  return new Attribute({ type: 'userPassword', values: [sshaHash(password)] });
}

export interface AccountOptions {
  dynamic: boolean;
}

/** Add an account entry able to bind with `password` (born as a credential by newIdentity before this, so already redacted). */
export async function addAccount(ctx: LdapContext, dn: string, password: string, options: AccountOptions): Promise<void> {
  const { layout } = ctx.client;
  const objectClasses = [...layout.accountObjectClasses, ...(options.dynamic ? ['dynamicObject'] : [])];
  const attributes = [
    new Attribute({ type: 'objectClass', values: objectClasses }),
    new Attribute({ type: 'cn', values: [cnOf(dn)] }),
    passwordAttribute(ctx.client, password),
    // Active Directory creates a user disabled unless told otherwise: 512 is NORMAL_ACCOUNT, enabled.
    ...(layout.passwordAttribute === 'unicodePwd' ? [new Attribute({ type: 'userAccountControl', values: ['512'] })] : []),
  ];
  await ctx.client.admin.use((c) => c.add(dn, attributes));
}

/** A new identity's bind, born as a credential: its password joins the redaction list before the entry exists. */
export function newIdentity(ctx: LdapContext, dn: string): Identity {
  return bornCredential(ctx.secrets, { type: 'ldap-bind', dn, password: newPassword() });
}

export async function addGroup(ctx: LdapContext, dn: string, members: string[], dynamic: boolean): Promise<void> {
  const { layout } = ctx.client;
  const list = members.length > 0 ? members : layout.emptyMember ? [layout.emptyMember] : [];
  const attributes: Record<string, string[] | string> = {
    objectClass: [layout.groupObjectClass, ...(dynamic ? ['dynamicObject'] : [])],
    cn: cnOf(dn),
  };
  if (list.length > 0) attributes.member = list;
  await ctx.client.admin.use((c) => c.add(dn, attributes));
}

export interface EntryLifetime {
  /** When the directory says it created the entry. */
  createdAt: string;
  /** entryTtl and entryExpireTimestamp as the directory states them; null for a permanent entry. */
  ttlSeconds: number | null;
  expiresAt: string | null;
}

/**
 * Make `dn` live for `ttlSeconds` (RFC 2589 refresh) and read back what the directory granted.
 * entryTtl reads as a countdown, a second short when the read lands in the next second; a
 * successful refresh grants no less than it asked (RFC 2589 §4.2), so the granted TTL is the
 * larger of the two — a directory that raised it (a minimum TTL) shows in the countdown.
 */
export async function setTtl(ctx: LdapContext, dn: string, ttlSeconds: number): Promise<EntryLifetime> {
  const asked = Math.max(1, Math.round(ttlSeconds));
  await ctx.client.admin.use((c) => refreshTtl(c, dn, asked));
  const lifetime = await lifetimeOf(ctx.client, dn);
  return { ...lifetime, ttlSeconds: Math.max(asked, lifetime.ttlSeconds ?? asked) };
}

export async function lifetimeOf(client: LdapClient, dn: string): Promise<EntryLifetime> {
  const result = await client.admin.search(dn, { scope: 'base', attributes: ['createTimestamp', 'entryTtl', 'entryExpireTimestamp'] });
  const entry = result.searchEntries[0];
  const created = values(entry, 'createTimestamp')[0];
  const ttl = values(entry, 'entryTtl')[0];
  const expires = values(entry, 'entryExpireTimestamp')[0];
  return {
    createdAt: created ? generalizedTimeToIso(created) : new Date().toISOString(),
    ttlSeconds: ttl === undefined ? null : Number(ttl),
    expiresAt: expires ? generalizedTimeToIso(expires) : ttl === undefined ? null : new Date(Date.now() + Number(ttl) * 1000).toISOString(),
  };
}

/**
 * Teardown: remove every membership value and entry carrying the scenario prefix, except the
 * entries named in `keep` (another half's, removed by that half's own teardown).
 */
export async function removeScenario(ctx: LdapContext, keep: readonly string[] = []): Promise<string[]> {
  const report = await sweepPrefix(ctx.client, ctx.prefix, keep, [...((ctx.state.get(NAMED) as Set<string> | undefined) ?? [])]);
  if (report.failed.length > 0) throw new Error(`could not remove: ${report.failed.join('; ')}`);
  return report.removed;
}

function cnOf(dn: string): string {
  const m = /^cn=((?:\\.|[^,])+)/i.exec(dn);
  if (!m?.[1]) throw new Error(`expected a cn= DN: ${dn}`);
  return m[1].replace(/\\(.)/g, '$1');
}
