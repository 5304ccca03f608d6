/**
 * The `entry` point of use over the user's own directory objects (`existing:`): a protected entry
 * and attribute, the group the ACL grants the read through, and optionally the requester's own
 * account, whose password comes from the variable the scenario names. Nothing is created. The
 * entry's change stamps and the group's members are read before and after (existing.ts) — never
 * the protected value — and what reaches the entry is read from the paths into the group that
 * involve the scenario or the requester, never by listing the directory.
 */
import { Attribute, Change } from 'ldapts';
import { z } from 'zod';
import { bornCredential, type ProbeResult, type Resource } from '../contract.ts';
import { type LdapClient, values } from './client.ts';
import { useExisting } from '../existing-objects.ts';
import type { Identity, LdapContext } from './fixtures.ts';
import { describeLdapError } from './probes.ts';
import { setProtectedTarget } from './sessions.ts';
import { ATTRIBUTE_TERM, ENTRY_TERM, GRANT_GROUP_TERM } from './terms.ts';
import { distinguishedName, envName } from '../param-fields.ts';

export const existingEntryParams = z.strictObject({
  /** The entry whose attribute the task reads. */
  entryDn: distinguishedName,
  /** The protected attribute of that entry. */
  attribute: z.string().min(1),
  /** The group the directory's ACL grants the read through (nested groups included). */
  grantGroupDn: distinguishedName,
  /** The requester's own account, to which a membership is granted. */
  requesterDn: distinguishedName.optional(),
  /** The variable holding the requester's password; absent: no requester credential, and the standing probe is inconclusive. */
  requesterPasswordEnv: envName.optional(),
});
export type ExistingEntry = z.infer<typeof existingEntryParams>;

const REQUESTER = 'existingRequester';
const WRITTEN = 'writtenByHolders';

/** The entry's change stamps only: its attributes hold the protected value, which is never recorded. */
async function entryStamps(client: LdapClient, dn: string): Promise<Record<string, string[]>> {
  const result = await client.admin.search(dn, { scope: 'base', attributes: ['createTimestamp', 'modifyTimestamp', 'entryCSN'] });
  const entry = result.searchEntries[0];
  return { createTimestamp: values(entry, 'createTimestamp'), modifyTimestamp: values(entry, 'modifyTimestamp'), entryCSN: values(entry, 'entryCSN') };
}

/** A group's classes and members, sorted: what a membership grant must leave as it found it. */
export async function groupSettings(client: LdapClient, dn: string): Promise<Record<string, string[]>> {
  const result = await client.admin.search(dn, { scope: 'base', attributes: ['objectClass', 'member', 'cn', 'description', 'owner'] });
  const entry = result.searchEntries[0];
  if (!entry) throw new Error(`the group ${dn} answered no entry`);
  return Object.fromEntries(['objectClass', 'member', 'cn', 'description', 'owner'].map((a) => [a, values(entry, a).sort()]));
}

/** Read an existing object, naming it when the directory does not have it. */
async function read<T>(what: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw new Error(`the existing ${what} could not be read: ${describeLdapError(error).text}`);
  }
}

export async function setUpExistingEntry(ctx: LdapContext, existing: ExistingEntry): Promise<Resource> {
  setProtectedTarget(ctx, { dn: existing.entryDn, attribute: existing.attribute });
  await read(`entry ${existing.entryDn}`, () => useExisting(ctx, `entry ${existing.entryDn}`, () => entryStamps(ctx.client, existing.entryDn)));
  await read(`group ${existing.grantGroupDn}`, () => useExisting(ctx, `group ${existing.grantGroupDn}`, () => groupSettings(ctx.client, existing.grantGroupDn)));
  const requester = requesterFromEnv(ctx, existing);
  return {
    description: `read ${existing.attribute} of ${existing.entryDn}`,
    terms: { [GRANT_GROUP_TERM]: existing.grantGroupDn, [ENTRY_TERM]: existing.entryDn, [ATTRIBUTE_TERM]: existing.attribute },
    ...(requester ? { requester } : {}),
  };
}

function requesterFromEnv(ctx: LdapContext, existing: ExistingEntry): Identity | undefined {
  if (!existing.requesterDn) return undefined;
  const variable = existing.requesterPasswordEnv;
  const password = variable ? process.env[variable] : undefined;
  if (!password) {
    ctx.evidence.record(`requester ${existing.requesterDn} named without a password${variable ? ` (${variable} is empty or unset)` : ''}: no requester credential`);
    return undefined;
  }
  const identity = bornCredential(ctx.secrets, { type: 'ldap-bind', dn: existing.requesterDn, password });
  ctx.state.set(REQUESTER, identity);
  ctx.evidence.record(`requester identity: the existing account ${existing.requesterDn}`, { dn: existing.requesterDn });
  return identity;
}

export function existingRequester(ctx: LdapContext): Identity | undefined {
  return ctx.state.get(REQUESTER) as Identity | undefined;
}

/** Without the requester's own bind nothing was asked: inconclusive, saying which parameter to set. */
export function noRequester(existing: ExistingEntry): ProbeResult {
  const detail = !existing.requesterDn
    ? "no requester credential: set existing.requesterDn and existing.requesterPasswordEnv (the variable holding its password) to probe the requester's standing privilege"
    : existing.requesterPasswordEnv
      ? `the variable ${existing.requesterPasswordEnv} named by existing.requesterPasswordEnv holds no password, so the requester's standing privilege was not probed`
      : `no password for ${existing.requesterDn}: set existing.requesterPasswordEnv to the variable holding it to probe the requester's standing privilege`;
  return { outcome: 'unknown', at: new Date().toISOString(), detail };
}

/** Remember a member value a holder wrote with its own bind: its holder is not the scenario's, so no prefix sweep finds it. */
export function rememberWritten(ctx: LdapContext, group: string, member: string): void {
  ctx.state.set(WRITTEN, [...((ctx.state.get(WRITTEN) as [string, string][] | undefined) ?? []), [group, member]]);
}

/** Remove what holders wrote; one already gone is not an error. */
export async function removeWritten(ctx: LdapContext): Promise<string[]> {
  const removed: string[] = [];
  for (const [group, member] of (ctx.state.get(WRITTEN) as [string, string][] | undefined) ?? []) {
    try {
      await ctx.client.admin.use((c) => c.modify(group, new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [member] }) })));
      removed.push(`member ${member} of ${group} (written by the holder)`);
    } catch (error) {
      const answer = describeLdapError(error);
      // noSuchAttribute (16) or noSuchObject (32): already gone.
      if (answer.kind !== 'result' || (answer.code !== 16 && answer.code !== 32)) throw error;
    }
  }
  return removed;
}
