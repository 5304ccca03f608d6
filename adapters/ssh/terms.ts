/**
 * The terms an sshd resource is granted by, as the `run-command` point of use offers them and an
 * SSH certificate authority's grant source needs them. Namespaced `ssh.`: a CA of any system that
 * signs for this sshd names the same term.
 */

/** The certificate principal this scenario's sshd accepts for the login: what a certificate must name. */
export const PRINCIPAL_TERM = 'ssh.principal';
/** The account the certificate logs in as. */
export const USER_TERM = 'ssh.user';
