/**
 * The directory (LDAP) adapter: temporary accounts as RFC 2589 dynamic objects, temporary group
 * memberships (dynamic grant groups; Active Directory expiring links), connections that outlive
 * their grant, nested-group paths, and the directory's own audit log. Any LDAPv3 directory;
 * the local target is a real OpenLDAP slapd the harness configures and starts itself.
 */
import type { Adapter } from '../contract.ts';
import { cleanupLdap } from './cleanup.ts';
import { connectLdap, type LdapClient } from './client.ts';
import { dynamicAccountMechanism } from './mechanisms/dynamic-account.ts';
import { groupMembershipMechanism } from './mechanisms/group-membership.ts';
import { ldapTargets } from './targets.ts';

const ldapAdapter: Adapter<LdapClient> = {
  name: 'ldap',
  title: 'LDAP directory (OpenLDAP, 389-DS, Active Directory)',
  products: ['OpenLDAP', '389 Directory Server', 'Active Directory'],
  targets: ldapTargets,
  connect: async (connection) => connectLdap(connection),
  disconnect: (client) => client.admin.close(),
  mechanisms: {
    'dynamic-account': dynamicAccountMechanism,
    'group-membership': groupMembershipMechanism,
  },
  cleanup: cleanupLdap,
};

export default ldapAdapter;
