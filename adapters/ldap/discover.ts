/**
 * `jitc discover` on a directory: finds the groups its ACL grants a read through and proposes a
 * scenario per group (a time-bound membership in it, judged at the entry the ACL protects). Only
 * reads: nothing in the directory changes.
 *
 * Where the ACL comes from, said in the output:
 * - OpenLDAP's `olcAccess` values under cn=config, when the bind may read them (a bind with
 *   access to cn=config: the config database's rootdn, or SASL EXTERNAL as root over ldapi);
 * - otherwise (cn=config not served, or not readable with this bind — a local target binds as the
 *   rootdn of the data tree, which cn=config does not know) the grant group, entry and attribute
 *   named in the connection settings (ldap.grantGroupDn, resourceDn, resourceAttribute): the other
 *   rules of the ACL are then not read, and nothing about them is judged.
 *
 * `role-trust-narrow`, for each ACL rule that grants a read through a group: it fails when the
 * same rule also grants read (or more) to a who no membership controls — `*`, `anonymous`,
 * `users`, or identities by location (`dn.subtree`, `dn.children`, `dn.one`, a regex); a named
 * identity (`dn.exact`) passes and is listed. Rules are judged one by one: an earlier rule
 * matching the same entry is not weighed against it.
 *
 * A group has no lifetime of its own: the membership's TTL is what the broker asks, so each
 * scenario's window is `policy.maxWindowSeconds`. A window the run may wait out is left to
 * expire; a longer one is revoked at task end, with an opt-in twin that waits for the expiry.
 * The membership goes to a requester of the organisation's (requesterDn, requesterPasswordEnv),
 * which discovery cannot know: those fields say CHANGE-ME.
 */
import pLimit from 'p-limit';
import { CHANGE_ME, type Discovery, type DiscoveryPolicy, type StaticFinding } from '../contract.ts';
import { rdnValue, type LdapClient, values } from './client.ts';
import { describeLdapError } from './probes.ts';

/** The value of a field discovery could not fill: the scenario file does not load until it is set. */
/** Reads in flight at once. */
const READS_AT_ONCE = 8;
/** Result codes with which the directory says cn=config is not there for this bind: noSuchObject, insufficientAccessRights, unwillingToPerform. */
const CONFIG_UNREADABLE = [32, 50, 53];

/** One `by` clause of an ACL rule: who, and the access it is given. */
export interface AclGrant {
  who: string;
  access: string;
}

/** One olcAccess value: what it protects, and who gets which access. */
export interface AclRule {
  /** The entry it names exactly (`dn.base`, `dn.exact`, or `dn=` without a pattern), if any. */
  entryDn: string | undefined;
  /** The attributes it names (`attrs=`), pseudo-attributes left out. */
  attributes: string[];
  by: AclGrant[];
  /** The value as the directory holds it, for findings. */
  text: string;
}

/** Words of an olcAccess value: whitespace-separated, double quotes kept together (and removed). */
function words(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:[^\s"]+|"(?:\\.|[^"\\])*")+/g)) out.push(m[0].replace(/"((?:\\.|[^"\\])*)"/g, '$1'));
  return out;
}

const ACCESS = /^(self)?(none|disclose|auth|compare|search|read|write|add|delete|manage|[=+-][0wrscxdamze]*)$/i;
const CONTROL = /^(stop|continue|break)$/;
/** A DN pattern that is a regular expression rather than one DN. */
const PATTERN = /[*+?()[\]\\^$|]/;

/** Parse one olcAccess (or slapd.conf `access`) value; undefined when it is no `to … by …` rule. */
export function parseAcl(value: string): AclRule | undefined {
  const text = value.replace(/^\{\d+\}/, '').trim();
  const w = words(text);
  if (w[0]?.toLowerCase() !== 'to') return undefined;
  let i = 1;
  let entryDn: string | undefined;
  const attributes: string[] = [];
  for (; i < w.length && w[i]!.toLowerCase() !== 'by'; i++) {
    const [key, ...rest] = w[i]!.split('=');
    const val = rest.join('=');
    const k = (key ?? '').toLowerCase();
    if (k === 'dn.base' || k === 'dn.exact' || (k === 'dn' && !PATTERN.test(val))) entryDn = val;
    else if (k === 'attrs' || k === 'attr') attributes.push(...val.split(',').filter((a) => a !== '' && !/^[@!]/.test(a) && !['entry', 'children'].includes(a.toLowerCase())));
  }
  const by: AclGrant[] = [];
  while (i < w.length) {
    if (w[i]!.toLowerCase() !== 'by' || w[i + 1] === undefined) break;
    const who = w[i + 1]!;
    i += 2;
    // A who may carry more clauses that all must match (peername.ip=…, ssf=…, sockurl=…): they
    // narrow it, and the access follows them.
    while (w[i] !== undefined && w[i]!.toLowerCase() !== 'by' && !ACCESS.test(w[i]!) && !CONTROL.test(w[i]!)) i++;
    let access = 'none';
    if (w[i] !== undefined && ACCESS.test(w[i]!)) access = w[i++]!;
    if (w[i] !== undefined && CONTROL.test(w[i]!)) i++;
    by.push({ who, access });
  }
  return { entryDn, attributes, by, text };
}

/** Whether an access level lets its holder read values: read or more, or privileges holding `r`. */
export function grantsRead(access: string): boolean {
  const level = access.toLowerCase().replace(/^self/, '');
  if (/^[=+]/.test(level)) return level.includes('r');
  return ['read', 'write', 'add', 'delete', 'manage'].includes(level);
}

/** The group a `who` grants through: `group…=DN`, or a set naming `[DN]/member`; undefined otherwise. */
export function groupOf(who: string): string | undefined {
  const group = /^group(?:\/[^=.]+)*(?:\.(?:exact|base|expand))?=(.+)$/i.exec(who);
  if (group) return group[1];
  const set = /^set(?:\.[a-z]+)?=.*\[([^\]]+)\]\/member\*?/i.exec(who);
  return set?.[1];
}

/** Whether a `who` reaches more than named identities no membership controls (see the header). */
function broadWho(who: string): boolean {
  const w = who.toLowerCase();
  if (['*', 'anonymous', 'users', 'realanonymous', 'realusers'].includes(w)) return true;
  const dn = /^(?:real)?dn(?:\.([a-z]+(?:\{\d+\})?))?=(.*)$/.exec(w);
  if (!dn) return false;
  if (dn[1] === 'exact' || dn[1] === 'base') return false;
  // Without a style the value is one DN unless it is written as a pattern.
  return dn[1] !== undefined || PATTERN.test(dn[2] ?? '');
}

/** `role-trust-narrow` for a rule granting a read through a group (see the header). */
export function judgeRule(rule: AclRule, group: string): StaticFinding {
  const readers = rule.by.filter((b) => grantsRead(b.access) && groupOf(b.who) === undefined && b.who.toLowerCase() !== 'self');
  const broad = readers.filter((b) => broadWho(b.who));
  const object = `ACL rule granting ${rule.attributes.join(', ') || 'entries'}${rule.entryDn ? ` of ${rule.entryDn}` : ''} through group ${group}`;
  if (broad.length > 0) {
    return { object, check: 'role-trust-narrow', verdict: 'fail', detail: `the same rule also grants ${broad.map((b) => `${b.access} to ${b.who}`).join(', ')}: a path to the privilege no membership grant controls (${rule.text})` };
  }
  const named = readers.map((b) => b.who);
  return { object, check: 'role-trust-narrow', verdict: 'pass', detail: named.length > 0 ? `besides the group, only named identities: ${named.join(', ')}` : 'only the group is granted the read' };
}

/** One group the ACL grants a read through, with the entry and attribute it protects. */
interface GrantPath {
  group: string;
  entryDn: string | undefined;
  attribute: string | undefined;
  finding?: StaticFinding;
}

/** olcAccess of every database under cn=config; undefined (with why) when this bind cannot read it. */
async function configAcl(client: LdapClient): Promise<{ rules: AclRule[] } | { unreadable: string }> {
  try {
    const { searchEntries } = await client.admin.search('cn=config', { scope: 'sub', filter: '(olcAccess=*)', attributes: ['olcAccess'] });
    if (searchEntries.length === 0) return { unreadable: 'no olcAccess readable under cn=config with this bind' };
    return { rules: searchEntries.flatMap((e) => values(e, 'olcAccess')).map(parseAcl).filter((r): r is AclRule => r !== undefined) };
  } catch (error) {
    const answer = describeLdapError(error);
    if (answer.kind === 'result' && CONFIG_UNREADABLE.includes(answer.code)) return { unreadable: `cn=config answered ${answer.text} to this bind` };
    throw error;
  }
}

/** Whether the group exists, read from the directory (a base search). */
async function exists(client: LdapClient, dn: string): Promise<boolean> {
  try {
    const { searchEntries } = await client.admin.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: ['objectClass'] });
    return searchEntries.length > 0;
  } catch (error) {
    const answer = describeLdapError(error);
    if (answer.kind === 'result' && answer.code === 32) return false;
    throw error;
  }
}

function scenariosFor(path: GrantPath, policy: DiscoveryPolicy): Discovery['scenarios'] {
  const window = policy.maxWindowSeconds;
  const entryDn = path.entryDn ?? CHANGE_ME;
  const attribute = path.attribute ?? CHANGE_ME;
  const name = rdnValue(path.group);
  const base = {
    adapter: 'ldap',
    severity: 'critical',
    grant: { adapter: 'ldap', source: 'group-membership', params: { group: path.group, ttlSeconds: window } },
    // The membership is granted to a requester of the organisation's, which discovery cannot know.
    use: { point: 'entry', params: { existing: { entryDn, attribute, grantGroupDn: path.group, requesterDn: CHANGE_ME, requesterPasswordEnv: CHANGE_ME } } },
    task: { windowSeconds: window, needs: [`read ${attribute} of ${entryDn}`] },
  };
  const granted = `The broker makes the requester a member of the existing group ${path.group}, through which the directory's ACL grants the read of ${attribute} of ${entryDn}, with a membership the directory itself bounds to ${window} s (a dynamic group nested in it, or an expiring link). The group is never otherwise changed.`;
  const expire = {
    id: `group-${name}-expire`,
    scenario: {
      title: `Group "${name}": a membership dies at its TTL`,
      proves: `${granted} Once the TTL has passed plus one second of grace, a new connection bound as the requester must be denied the read and no membership may be left.`,
      ...base,
      end: { mode: 'expire', graceSeconds: 1 },
      reuse: { deadlineSeconds: 3 },
    },
  };
  if (window <= policy.maxWaitSeconds) return [{ ...expire, id: `group-${name}` }];
  return [
    {
      id: `group-${name}`,
      scenario: {
        title: `Group "${name}": a membership is removed at task end`,
        proves: `${granted} When the task ends the broker removes the membership, and a new connection bound as the requester must be denied within two seconds.`,
        ...base,
        end: { mode: 'revoke' },
        reuse: { deadlineSeconds: 2 },
      },
    },
    { ...expire, optIn: true },
  ];
}

/** Discovery with what the reader should know beside it: where the ACL was read, what could not be filled. */
export async function discoverLdap(client: LdapClient, policy: DiscoveryPolicy): Promise<Discovery & { notes: string[] }> {
  const acl = await configAcl(client);
  const notes: string[] = [];
  let paths: GrantPath[];
  if ('rules' in acl) {
    paths = acl.rules.flatMap((rule) =>
      rule.by
        .filter((b) => grantsRead(b.access))
        .flatMap((b) => {
          const group = groupOf(b.who);
          return group ? [{ group, entryDn: rule.entryDn, attribute: rule.attributes[0], finding: judgeRule(rule, group) }] : [];
        }),
    );
    notes.push(`ACL read from cn=config: ${acl.rules.length} olcAccess rules, ${paths.length} granting a read through a group`);
  } else {
    const l = client.layout;
    paths = [{ group: l.grantGroupDn, entryDn: l.resourceDn, attribute: l.resourceAttribute }];
    notes.push(`ACL not read (${acl.unreadable}): used the grant group named in the connection settings (ldap.grantGroupDn ${l.grantGroupDn}); no other ACL rule was read or judged`);
  }
  const limit = pLimit(READS_AT_ONCE);
  const present = await Promise.all(paths.map((p) => limit(() => exists(client, p.group))));
  const kept = paths.filter((p, i) => {
    if (!present[i]) notes.push(`group ${p.group}: named by the ACL but not in the directory; no scenario`);
    return present[i];
  });
  for (const p of kept) {
    if (!p.entryDn || !p.attribute) notes.push(`group ${p.group}: its ACL rule names no single entry and attribute; set use.params.existing.entryDn and attribute in its scenario`);
  }
  if (kept.length > 0) notes.push('a membership is granted to a requester of yours: set use.params.existing.requesterDn, and requesterPasswordEnv to the name of the variable holding its password, in each scenario');
  return {
    scenarios: kept.flatMap((p) => scenariosFor(p, policy)),
    findings: kept.flatMap((p) => (p.finding ? [p.finding] : [])),
    notes,
  };
}
