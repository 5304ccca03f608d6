/**
 * Removing what the harness created, found on the directory itself by name: every entry whose
 * first RDN value carries the prefix (`jitc-<runId>-<scenario>-…`) and every `member` value that
 * points at such a name — including values left dangling by an entry that is already gone.
 * Used by each scenario's teardown (its own prefix) and by `jitc cleanup` (a run, or all runs).
 * The configured grant group, protected entry and base are never removed, whatever their names.
 */
import { Attribute, Change, type Client } from 'ldapts';
import type { CleanupReport } from '../contract.ts';
import { runPrefix } from '../contract.ts';
import { carriesPrefix, escapeFilterValue, type LdapClient, rdnValue, values } from './client.ts';
import { scenarioBases } from './entitlements.ts';
import { LinkTtlControl, parseLinkValue } from './link-ttl.ts';
import { describeLdapError, ldapErrorText } from './probes.ts';

type Matcher = (dn: string) => boolean;

/** Names that start with `start` (a run: `jitc-<runId>-`). */
function startsWith(start: string): Matcher {
  const p = start.toLowerCase();
  return (dn) => rdnValue(dn).toLowerCase().startsWith(p);
}

/** Any jitc run: `jitc-<runId>-<scenario>…`. */
const anyRun: Matcher = (dn) => /^jitc-[^-,]+-./i.test(rdnValue(dn));

function isNotFound(error: unknown): boolean {
  const answer = describeLdapError(error);
  return answer.kind === 'result' && answer.code === 32;
}

function protectedDns(client: LdapClient): Set<string> {
  const { baseDn, grantGroupDn, boundGrantGroupDn, breakGlassGroupDn, breakGlassOperatorsDn, resourceDn, accountsDn, groupsDn, dnGrantedDn, unauditedDn, selfServiceDn } = client.layout;
  return new Set([baseDn, grantGroupDn, boundGrantGroupDn, breakGlassGroupDn, breakGlassOperatorsDn, resourceDn, accountsDn, groupsDn, dnGrantedDn, unauditedDn, selfServiceDn].flatMap((dn) => (dn ? [dn.toLowerCase()] : [])));
}

/** The layout's own groups: where a grant puts a member, and where a value left dangling by an expired entry stays. */
function layoutGroups(client: LdapClient): string[] {
  const { grantGroupDn, boundGrantGroupDn, breakGlassGroupDn, breakGlassOperatorsDn } = client.layout;
  return [grantGroupDn, boundGrantGroupDn, breakGlassGroupDn, breakGlassOperatorsDn].flatMap((dn) => (dn ? [dn] : []));
}

/**
 * What a sweep reads for member values: a run's or every run's (`jitc cleanup`) reads every group
 * under the scenario bases; one scenario's teardown (`names` given: the entries it named, and its
 * entries still there) reads the layout's groups and the groups listing one of those names, so its
 * cost does not grow with how many groups the directory holds.
 */
type GroupScope = { every: true } | { names: readonly string[] };

/** `spare`: entries that match but are left in place (their member values are still removed). */
async function sweep(client: LdapClient, filterPrefix: string, matches: Matcher, spare: Matcher = () => false, scope: GroupScope = { every: true }): Promise<CleanupReport> {
  const report: CleanupReport = { removed: [], failed: [] };
  const keep = protectedDns(client);
  const ad = client.settings.flavour === 'active-directory';

  const entries = new Set<string>();
  const found = new Set<string>();
  for (const base of scenarioBases(client)) {
    try {
      const result = await client.admin.search(base, { scope: 'sub', filter: `(cn=${escapeFilterValue(filterPrefix)}*)`, attributes: ['1.1'] });
      for (const entry of result.searchEntries) {
        if (!matches(entry.dn)) continue;
        found.add(entry.dn);
        if (!keep.has(entry.dn.toLowerCase()) && !spare(entry.dn)) entries.add(entry.dn);
      }
    } catch (error) {
      if (!isNotFound(error)) report.failed.push(`search ${base}: ${ldapErrorText(error)}`);
    }
  }

  // Membership values first, so no group keeps granting through a name about to disappear.
  const groups = new Map<string, string[]>();
  const readGroups = async (base: string, scope: 'base' | 'sub', filter: string): Promise<void> => {
    try {
      const result = await client.admin.use((c: Client) => c.search(base, { scope, filter, attributes: ['member'] }, ad ? [new LinkTtlControl()] : undefined));
      for (const entry of result.searchEntries) groups.set(entry.dn, values(entry, 'member').map((v) => parseLinkValue(v).dn));
    } catch (error) {
      if (!isNotFound(error)) report.failed.push(`read groups under ${base}: ${ldapErrorText(error)}`);
    }
  };
  const isGroup = `(objectClass=${escapeFilterValue(client.layout.groupObjectClass)})`;
  if ('every' in scope) {
    await readGroups(client.layout.grantGroupDn, 'base', isGroup);
    for (const base of scenarioBases(client)) await readGroups(base, 'sub', isGroup);
  } else {
    for (const group of layoutGroups(client)) await readGroups(group, 'base', isGroup);
    const names = [...new Set([...scope.names, ...found].map((dn) => dn.toLowerCase()))];
    if (names.length > 0) {
      const listing = `(&${isGroup}(|${names.map((dn) => `(member=${escapeFilterValue(dn)})`).join('')}))`;
      for (const base of scenarioBases(client)) await readGroups(base, 'sub', listing);
    }
  }
  for (const [group, members] of groups) {
    // A group of our own is deleted below, members and all.
    if (matches(group) && !keep.has(group.toLowerCase()) && !spare(group)) continue;
    if (members.some(matches)) await removeMembers(client, group, members, matches, report);
  }

  // Deepest first: a parent cannot be deleted before its children.
  const ordered = [...entries].sort((a, b) => b.split(',').length - a.split(',').length);
  for (const dn of ordered) {
    try {
      await client.admin.use((c) => c.del(dn));
      report.removed.push(`entry ${dn}`);
    } catch (error) {
      if (!isNotFound(error)) report.failed.push(`entry ${dn}: ${ldapErrorText(error)}`);
    }
  }
  return report;
}

/**
 * Remove the matching member values of one group in a single modify. groupOfNames must keep a
 * member, so when none would be left the placeholder is added in the same modify. Values may vanish
 * meanwhile (refint, dds, a concurrent teardown): then the group is read again and the modify retried.
 */
async function removeMembers(client: LdapClient, group: string, members: string[], matches: Matcher, report: CleanupReport): Promise<void> {
  let current = members;
  for (let attempt = 1; ; attempt++) {
    const ours = current.filter(matches);
    if (ours.length === 0) return;
    const emptied = ours.length === current.length && client.layout.emptyMember !== '';
    try {
      await client.admin.use((c) =>
        c.modify(group, [
          ...(emptied ? [new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [client.layout.emptyMember] }) })] : []),
          new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: ours }) }),
        ]),
      );
      for (const member of ours) report.removed.push(`member ${member} of ${group}`);
      return;
    } catch (error) {
      const answer = describeLdapError(error);
      if (answer.kind === 'result' && answer.code === 32) return; // the group is gone
      const changedMeanwhile = answer.kind === 'result' && (answer.code === 16 || answer.code === 20);
      if (!changedMeanwhile || attempt >= 3) {
        report.failed.push(`members ${ours.join('; ')} of ${group}: ${answer.text}`);
        return;
      }
      const reread = await client.admin.search(group, { scope: 'base', attributes: ['member'] }).catch(() => undefined);
      current = values(reread?.searchEntries[0], 'member').map((v) => parseLinkValue(v).dn);
    }
  }
}

/**
 * Everything carrying exactly this scenario prefix (`<prefix>.<role>`), except the entries named
 * in `keep`: one half's teardown leaves the other half's identity to that half. Membership values
 * pointing at a kept entry still go: a membership is a grant, whoever holds it. `named`: every
 * entry the scenario named, gone or not, so a value pointing at one the directory already expired
 * is found too.
 */
export function sweepPrefix(client: LdapClient, prefix: string, keep: readonly string[] = [], named: readonly string[] = []): Promise<CleanupReport> {
  const kept = new Set(keep.map((dn) => dn.toLowerCase()));
  return sweep(client, prefix, (dn) => carriesPrefix(dn, prefix), (dn) => kept.has(dn.toLowerCase()), { names: named });
}

/** `jitc cleanup`: what a run (or every jitc run) left in the directory. */
export function cleanupLdap(client: LdapClient, runId: string | undefined): Promise<CleanupReport> {
  return runId ? sweep(client, runPrefix(runId), startsWith(runPrefix(runId))) : sweep(client, runPrefix(), anyRun);
}
