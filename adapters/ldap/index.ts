/**
 * The directory (LDAP) adapter: temporary accounts as RFC 2589 dynamic objects, temporary group
 * memberships (dynamic grant groups; Active Directory expiring links), connections that outlive
 * their grant, nested-group paths, and the directory's own audit log. Any LDAPv3 directory;
 * the local target is a real OpenLDAP slapd the harness configures and starts itself.
 *
 * Three grant sources (the broker half: `dynamic-account`, `group-membership`, the emergency path
 * `break-glass`) and one point of use
 * (the observer half: `entry`, a protected attribute the ACL lets the grant group read). Both
 * sources hand on an LDAP bind; the built-in scenarios name them as native pairs.
 */
import type { Adapter } from '../contract.ts';
import { cleanupLdap } from './cleanup.ts';
import { ldapLeftovers } from './leftovers.ts';
import { lookUpLdap } from './look-up.ts';
import { connectLdap, type LdapClient } from './client.ts';
import { breakGlassSource } from './grants/break-glass.ts';
import { dynamicAccountSource } from './grants/dynamic-account.ts';
import { groupMembershipSource } from './grants/group-membership.ts';
import { entryPoint } from './points/entry.ts';
import { ldapTargets } from './targets.ts';

const ldapAdapter: Adapter<LdapClient> = {
  name: 'ldap',
  title: 'LDAP directory (OpenLDAP, 389-DS, Active Directory)',
  products: ['OpenLDAP', '389 Directory Server', 'Active Directory'],
  targets: ldapTargets,
  connect: async (connection) => connectLdap(connection),
  disconnect: (client) => client.admin.close(),
  grantSources: {
    'dynamic-account': dynamicAccountSource,
    'group-membership': groupMembershipSource,
    'break-glass': breakGlassSource,
  },
  pointsOfUse: {
    entry: entryPoint,
  },
  pairs: {
    'dynamic-account': { source: 'dynamic-account', pointOfUse: 'entry' },
    'group-membership': { source: 'group-membership', pointOfUse: 'entry' },
    'break-glass': { source: 'break-glass', pointOfUse: 'entry' },
  },
  cleanup: cleanupLdap,
  leftovers: ldapLeftovers,
  discover: async (client, policy) => (await import('./discover.ts')).discoverLdap(client, policy),
  lookUp: lookUpLdap,
  longWait: { scenario: 'dynamic-account-ttl', ttlParam: 'ttlSeconds' },
  // The layout as well: a broker needs to know where groups and accounts live.
  hookEnvironment: ({ settings: s }) => ({
    LDAP_URL: s.url ?? '',
    LDAP_BIND_DN: s.bindDn ?? '',
    LDAP_BIND_PASSWORD: s.password ?? '',
    LDAP_BASE_DN: s.baseDn ?? '',
    LDAP_GROUPS_DN: s.groupsDn ?? '',
    LDAP_ACCOUNTS_DN: s.accountsDn ?? '',
    LDAP_GRANT_GROUP_DN: s.grantGroupDn ?? '',
  }),
};

export default ldapAdapter;
