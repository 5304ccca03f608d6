/**
 * The harness's own OpenLDAP: a slapd.conf and seed LDIF written into the run's work directory,
 * never /etc/ldap. Pure functions, so the configuration can be read (and tested) as text.
 *
 * The directory it describes is small and deliberate:
 * - dds (RFC 2589 dynamic objects) with short TTL bounds and a one-second reaper, so grants made
 *   as dynamic entries really disappear within the test's patience;
 * - accesslog into a second database (cn=accesslog), logging writes and binds: the directory's own
 *   record of who changed what, when;
 * - refint on `member`, so deleting (or expiring) an entry also removes it from every group,
 *   as Active Directory does for linked attributes;
 * - ACLs: only the grant group, followed through nested groups, reads the protected attribute (a
 *   second grant group does on connections from 127.0.0.1 alone: a grant bound to its context); an
 *   "apps" subtree is granted the same read by location (a DN rule), to show what such rules do to
 *   open connections; authenticated identities read the rest; anonymous binds only;
 * - a break-glass group, read like the grant group, whose `member` only the break-glass operators
 *   may write: the emergency path, kept apart from the routine one (the broker's);
 * - a separate database at ou=unaudited whose accesslog logs adds, modifies and binds but no
 *   deletes (a `logops` list that forgot them): the audit-trail twin's grant is recorded there,
 *   its removal is not;
 * - a "self-service" subtree whose ACL lets an entry `manage` its own entryTtl and a group's
 *   members manage the group's: the common misconfiguration under which the holder of a grant
 *   refreshes it past its window (RFC 2589 refresh needs manage on entryTtl in slapd).
 */
import type { DirectoryLayout } from './layout.ts';

export interface SlapdPaths {
  /** Directory holding one sub-directory per database. */
  dataDir: string;
  pidFile: string;
  argsFile: string;
  modulePath: string;
  schemaDir: string;
}

export interface DdsBounds {
  /** Lowest TTL a refresh may obtain. */
  minTtlSeconds: number;
  /** TTL of a new dynamic entry until the broker refreshes it: the safety net if the broker dies. */
  defaultTtlSeconds: number;
  /** How often slapd looks for expired entries. */
  intervalSeconds: number;
}

export const TEST_DDS_BOUNDS: DdsBounds = { minTtlSeconds: 1, defaultTtlSeconds: 60, intervalSeconds: 1 };

/** dds refuses a maximum below one day (slapo-dds(5)). */
const DDS_MAX_TTL_SECONDS = 86_400;
const MDB_MAX_BYTES = 64 * 1024 * 1024;

function ddsBlock(bounds: DdsBounds): string {
  return [
    'overlay dds',
    `dds-max-ttl ${DDS_MAX_TTL_SECONDS}`,
    `dds-min-ttl ${bounds.minTtlSeconds}`,
    `dds-default-ttl ${bounds.defaultTtlSeconds}`,
    `dds-interval ${bounds.intervalSeconds}`,
  ].join('\n');
}

function refintBlock(layout: DirectoryLayout): string {
  // refint_nothing keeps groupOfNames valid when its last member is removed.
  return ['overlay refint', 'refint_attributes member', `refint_nothing ${layout.emptyMember}`].join('\n');
}

function quote(value: string): string {
  if (/["\\\n]/.test(value)) throw new Error(`unexpected character in slapd.conf value: ${value}`);
  return `"${value}"`;
}

export function slapdConf(layout: DirectoryLayout, paths: SlapdPaths, rootPasswordHash: string, bounds: DdsBounds = TEST_DDS_BOUNDS): string {
  const db = (name: string): string => `${paths.dataDir}/${name}`;
  const unaudited = layout.unauditedDn;
  const dnGranted = layout.dnGrantedDn;
  const selfService = layout.selfServiceDn;
  const bound = layout.boundGrantGroupDn;
  const breakGlass = layout.breakGlassGroupDn;
  const operators = layout.breakGlassOperatorsDn;
  return `# Written by jitc for one run; removed when the run's slapd stops.
include ${paths.schemaDir}/core.schema
include ${paths.schemaDir}/cosine.schema
include ${paths.schemaDir}/inetorgperson.schema

modulepath ${paths.modulePath}
moduleload back_mdb
moduleload dds
moduleload accesslog
moduleload refint

pidfile ${paths.pidFile}
argsfile ${paths.argsFile}

# The directory's own audit trail, written by the accesslog overlay below.
database mdb
suffix ${quote(layout.accessLogDn)}
rootdn ${quote(layout.rootDn)}
directory ${db('accesslog')}
maxsize ${MDB_MAX_BYTES}
index reqStart eq
index reqDN eq
index objectClass eq
access to * by * none
${
  unaudited
    ? `
# A subtree served by its own database whose accesslog leaves deletions out (logops without
# delete): a grant made here is recorded, its removal is not.
database mdb
suffix ${quote(unaudited)}
rootdn ${quote(layout.rootDn)}
directory ${db('unaudited')}
maxsize ${MDB_MAX_BYTES}
index objectClass eq
index cn eq,sub
index member eq
index entryExpireTimestamp eq
${ddsBlock(bounds)}
overlay accesslog
logdb ${quote(layout.accessLogDn)}
logops add modify modrdn bind
${refintBlock(layout)}
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
`
    : ''
}
database mdb
suffix ${quote(layout.baseDn)}
rootdn ${quote(layout.rootDn)}
rootpw ${rootPasswordHash}
directory ${db('main')}
maxsize ${MDB_MAX_BYTES}
index objectClass eq
index cn eq,sub
index member eq
# dds finds expired entries through this index.
index entryExpireTimestamp eq
${ddsBlock(bounds)}
overlay accesslog
logdb ${quote(layout.accessLogDn)}
logops writes bind
${refintBlock(layout)}

# The privileged action: reading ${layout.resourceAttribute} of ${layout.resourceDn}.
# Granted to members of ${layout.grantGroupDn}, nested groups included ("member*")${bound ? `,\n# to members of ${bound} on a connection from 127.0.0.1 alone` : ''}${dnGranted ? `,\n# and, by location, to any identity under ${dnGranted}` : ''}.
access to dn.base=${quote(layout.resourceDn)} attrs=${layout.resourceAttribute}
  by set=${quote(`[${layout.grantGroupDn}]/member* & user`)} read${breakGlass ? `\n  by set=${quote(`[${breakGlass}]/member* & user`)} read` : ''}${bound ? `\n  by set=${quote(`[${bound}]/member* & user`)} peername.ip=127.0.0.1 read` : ''}${dnGranted ? `\n  by dn.children=${quote(dnGranted)} read` : ''}
  by * none
access to attrs=userPassword
  by anonymous auth
  by * none${
    breakGlass && operators
      ? `
# The break-glass path: only the operators may add to (or take from) the break-glass group.
access to dn.base=${quote(breakGlass)} attrs=member
  by set=${quote(`[${operators}]/member & user`)} write
  by users read
  by * none`
      : ''
  }${
    selfService
      ? `
# Broken on purpose: under ${selfService} an entry may refresh its own TTL, and a group's members the group's.
access to dn.subtree=${quote(selfService)} attrs=entryTtl
  by self manage
  by set=${quote('this/member & user')} manage
  by users read
  by * none`
      : ''
  }
access to *
  by users read
  by * none
`;
}

/** Entries of the main database: containers, the protected entry and the (empty) grant group. */
export function seedLdif(layout: DirectoryLayout, protectedValue: string, rootObject: { o: string; dc: string }): string {
  const entries: string[][] = [
    [`dn: ${layout.baseDn}`, 'objectClass: dcObject', 'objectClass: organization', `o: ${rootObject.o}`, `dc: ${rootObject.dc}`],
    ...[layout.accountsDn, layout.groupsDn, parentOf(layout.resourceDn), ...(layout.dnGrantedDn ? [layout.dnGrantedDn] : []), ...(layout.selfServiceDn ? [layout.selfServiceDn] : [])]
      .filter((dn, i, all) => dn !== layout.baseDn && all.indexOf(dn) === i)
      .map((dn) => [`dn: ${dn}`, 'objectClass: organizationalUnit', `ou: ${rdnValue(dn)}`]),
    [`dn: ${layout.resourceDn}`, 'objectClass: applicationProcess', `cn: ${rdnValue(layout.resourceDn)}`, `${layout.resourceAttribute}: ${protectedValue}`],
    ...[layout.grantGroupDn, ...[layout.boundGrantGroupDn, layout.breakGlassGroupDn, layout.breakGlassOperatorsDn].filter((dn): dn is string => Boolean(dn))].map((dn) => [`dn: ${dn}`, 'objectClass: groupOfNames', `cn: ${rdnValue(dn)}`, `member: ${layout.emptyMember}`]),
  ];
  return `${entries.map((lines) => lines.join('\n')).join('\n\n')}\n`;
}

export function unauditedLdif(dn: string): string {
  return `dn: ${dn}\nobjectClass: organizationalUnit\nou: ${rdnValue(dn)}\n`;
}

function rdnValue(dn: string): string {
  const m = /^[^=]+=([^,]+)/.exec(dn);
  if (!m?.[1]) throw new Error(`not a DN: ${dn}`);
  return m[1];
}

function parentOf(dn: string): string {
  const i = dn.indexOf(',');
  if (i < 0) throw new Error(`no parent: ${dn}`);
  return dn.slice(i + 1);
}
