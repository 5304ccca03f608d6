/**
 * The terms a table read is granted by, as the `table-read` and `cert-login` points of use offer
 * them. Namespaced `postgres.`: a grant source of another system (OpenBao's database engine, its
 * pki engine) names the same term.
 */

/** The NOLOGIN role holding the privilege: a grant makes the login a member of it (`GRANT "<role>" TO "<login>"`). */
export const GRANT_ROLE_TERM = 'postgres.grant-role';
/** The table whose read is the privileged action, as a quoted qualified name (`"schema"."table"`). */
export const TABLE_TERM = 'postgres.table';
/** The database the table lives in, and the login connects to. */
export const DATABASE_TERM = 'postgres.database';
/**
 * The role a client certificate logs in as (`cert-login`): a certificate whose CN is this name,
 * from a CA the server trusts, logs in as it. A grant source of certificates puts it in the CN.
 */
export const CERT_USER_TERM = 'postgres.cert-user';
