/**
 * Where things live in the directory, and how the directory wants its entries shaped. The same
 * layout drives the local slapd (which jitc builds to match it) and an external directory (where
 * the operator names an existing grant group and protected entry).
 */
import { z } from 'zod';

export type DirectoryFlavour = 'openldap' | 'active-directory' | '389-ds' | 'ldap';

export interface DirectoryLayout {
  baseDn: string;
  /** Who the harness binds as to create and remove grants (the broker's identity). */
  rootDn: string;
  /** Membership in this group (nested groups included, as the ACL says) grants the privileged action. */
  grantGroupDn: string;
  /**
   * Membership in this group grants the same read, but only to a connection from 127.0.0.1 (the
   * ACL's peername clause): a grant bound to the context the task runs in (local target only).
   */
  boundGrantGroupDn: string | null;
  /**
   * The emergency path (local target only): members of this group, nested ones included, read the
   * protected attribute like the grant group's, and only members of `breakGlassOperatorsDn` may
   * write its `member` (the break-glass path). Null where the directory has none of jitc's making.
   */
  breakGlassGroupDn: string | null;
  /** Who may use the break-glass path: membership here carries no read by itself. */
  breakGlassOperatorsDn: string | null;
  /** The entry and attribute whose read is the privileged action. */
  resourceDn: string;
  resourceAttribute: string;
  /** Where scenario identities (requesters, temporary service accounts) are created. */
  accountsDn: string;
  /** Where scenario groups (nested "team" groups, dynamic grant groups) are created. */
  groupsDn: string;
  /** A subtree whose identities the ACL grants the privileged action by location (a DN rule), if any. */
  dnGrantedDn: string | null;
  /** A subtree whose deletions the directory's audit log leaves out (local target only), if any. */
  unauditedDn: string | null;
  /**
   * A subtree whose ACL lets an entry manage its own entryTtl, and a group's members manage the
   * group's (local target only, for broken setups): there the holder can refresh its own grant.
   */
  selfServiceDn: string | null;
  /** Suffix of the accesslog database; '' where none is named (the directory's trail is then not evidenced). */
  accessLogDn: string;
  /** groupOfNames needs a member; this non-existent DN stands in for "nobody". Empty where groups may be empty (AD). */
  emptyMember: string;
  groupObjectClass: string;
  accountObjectClasses: string[];
  /** `userPassword` (sent as a salted SHA hash) or Active Directory's `unicodePwd` (sent as AD requires). */
  passwordAttribute: 'userPassword' | 'unicodePwd';
}

/** The local slapd's tree. */
export function localLayout(): DirectoryLayout {
  const baseDn = 'dc=jitc,dc=test';
  return {
    baseDn,
    rootDn: `cn=admin,${baseDn}`,
    grantGroupDn: `cn=protected-readers,ou=groups,${baseDn}`,
    boundGrantGroupDn: `cn=protected-readers-from-127.0.0.1,ou=groups,${baseDn}`,
    breakGlassGroupDn: `cn=break-glass-readers,ou=groups,${baseDn}`,
    breakGlassOperatorsDn: `cn=break-glass-operators,ou=groups,${baseDn}`,
    resourceDn: `cn=protected,ou=resources,${baseDn}`,
    resourceAttribute: 'description',
    accountsDn: `ou=accounts,${baseDn}`,
    groupsDn: `ou=groups,${baseDn}`,
    dnGrantedDn: `ou=apps,${baseDn}`,
    unauditedDn: `ou=unaudited,${baseDn}`,
    selfServiceDn: `ou=self-service,${baseDn}`,
    accessLogDn: 'cn=accesslog',
    emptyMember: `cn=nobody,${baseDn}`,
    groupObjectClass: 'groupOfNames',
    accountObjectClasses: ['applicationProcess', 'simpleSecurityObject'],
    passwordAttribute: 'userPassword',
  };
}

/** The connection settings of an ldap target: plain strings, as TargetConnection requires. */
export const settingsSchema = z.object({
  url: z.string().regex(/^ldaps?:\/\//, 'an ldap:// or ldaps:// URL'),
  bindDn: z.string().min(3),
  password: z.string().default(''),
  saslMechanism: z.enum(['', 'EXTERNAL', 'PLAIN', 'DIGEST-MD5', 'SCRAM-SHA-1']).default(''),
  startTls: z.enum(['true', 'false']).default('false'),
  tlsCaFile: z.string().default(''),
  tlsCertFile: z.string().default(''),
  tlsKeyFile: z.string().default(''),
  timeoutMs: z.string().regex(/^\d+$/).default('5000'),
  flavour: z.enum(['openldap', 'active-directory', '389-ds', 'ldap']).default('ldap'),
  baseDn: z.string().min(3),
  grantGroupDn: z.string().min(3),
  boundGrantGroupDn: z.string().default(''),
  breakGlassGroupDn: z.string().default(''),
  breakGlassOperatorsDn: z.string().default(''),
  resourceDn: z.string().min(3),
  resourceAttribute: z.string().min(1),
  accountsDn: z.string().min(3),
  groupsDn: z.string().min(3),
  dnGrantedDn: z.string().default(''),
  unauditedDn: z.string().default(''),
  selfServiceDn: z.string().default(''),
  accessLogDn: z.string().default(''),
  emptyMember: z.string().default(''),
  groupObjectClass: z.string().min(1),
  accountObjectClasses: z.string().min(1),
  passwordAttribute: z.enum(['userPassword', 'unicodePwd']),
});
export type LdapSettings = z.infer<typeof settingsSchema>;

export function layoutToSettings(layout: DirectoryLayout): Omit<LdapSettings, 'url' | 'bindDn' | 'password' | 'saslMechanism' | 'startTls' | 'tlsCaFile' | 'tlsCertFile' | 'tlsKeyFile' | 'timeoutMs' | 'flavour'> {
  return {
    baseDn: layout.baseDn,
    grantGroupDn: layout.grantGroupDn,
    boundGrantGroupDn: layout.boundGrantGroupDn ?? '',
    breakGlassGroupDn: layout.breakGlassGroupDn ?? '',
    breakGlassOperatorsDn: layout.breakGlassOperatorsDn ?? '',
    resourceDn: layout.resourceDn,
    resourceAttribute: layout.resourceAttribute,
    accountsDn: layout.accountsDn,
    groupsDn: layout.groupsDn,
    dnGrantedDn: layout.dnGrantedDn ?? '',
    unauditedDn: layout.unauditedDn ?? '',
    selfServiceDn: layout.selfServiceDn ?? '',
    accessLogDn: layout.accessLogDn,
    emptyMember: layout.emptyMember,
    groupObjectClass: layout.groupObjectClass,
    accountObjectClasses: layout.accountObjectClasses.join(','),
    passwordAttribute: layout.passwordAttribute,
  };
}

export function settingsToLayout(s: LdapSettings): DirectoryLayout {
  return {
    baseDn: s.baseDn,
    rootDn: s.bindDn,
    grantGroupDn: s.grantGroupDn,
    boundGrantGroupDn: s.boundGrantGroupDn || null,
    breakGlassGroupDn: s.breakGlassGroupDn || null,
    breakGlassOperatorsDn: s.breakGlassOperatorsDn || null,
    resourceDn: s.resourceDn,
    resourceAttribute: s.resourceAttribute,
    accountsDn: s.accountsDn,
    groupsDn: s.groupsDn,
    dnGrantedDn: s.dnGrantedDn || null,
    unauditedDn: s.unauditedDn || null,
    selfServiceDn: s.selfServiceDn || null,
    accessLogDn: s.accessLogDn,
    emptyMember: s.emptyMember,
    groupObjectClass: s.groupObjectClass,
    accountObjectClasses: s.accountObjectClasses.split(',').map((c) => c.trim()).filter(Boolean),
    passwordAttribute: s.passwordAttribute,
  };
}
