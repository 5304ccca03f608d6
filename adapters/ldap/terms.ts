/**
 * The terms a directory resource is granted by, as the `entry` point of use offers them and the
 * directory's grant sources need them. Namespaced `ldap.`: a grant source of another system that
 * grants by a directory group names the same term.
 */

/** The group the directory's ACL grants the privileged read through (nested groups included). */
export const GRANT_GROUP_TERM = 'ldap.grant-group';
/** The protected entry whose attribute the task reads. */
export const ENTRY_TERM = 'ldap.entry';
/** The protected attribute of that entry. */
export const ATTRIBUTE_TERM = 'ldap.attribute';
