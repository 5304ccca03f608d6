/**
 * `cert-login`: reading a table with a client certificate. The privileged action is a new TLS
 * connection presenting the certificate (and the chain it carries), logging in by certificate as
 * the scenario's certificate role, and reading the table its grant role may read. PostgreSQL
 * decides at the handshake: the chain must reach the root CA it trusts, no CA on it may have
 * revoked it in the CRL the server holds, and the CN must be the role's name.
 *
 * A CA revokes a certificate in its own CRL; the database refuses it only once its own copy holds
 * the revocation. Keeping that copy current is this point's job, on the schedule the scenario
 * states (`crlRefreshSeconds`), from the distribution point the CA names in its certificates
 * (crl.ts): started the first time a certificate of that CA is used, stopped at teardown. The
 * grant's end never touches it.
 *
 * Each use and probe is a connection of its own, closed after; no session is held across the end.
 * PostgreSQL checks a certificate only at the handshake, so a session opened with it would run on
 * after its revocation whatever the CRL says: what is judged here is whether the certificate still
 * opens one.
 *
 * The holder of a certificate may try to outlast it (extension.ts): any role may set its own
 * password, and a certificate role with one logs in without a certificate wherever pg_hba.conf
 * lets it fall through to a password line. Whether such a password still opens the table is part
 * of what reaches it (residue); it goes with the role at teardown.
 *
 * Needs a target that takes certificate logins: the local one, whose TLS jitc set up (its root CA,
 * CRL directory and certificate-login group are in the connection's settings), or an external one
 * whose config names the CA of its server certificate and its certificate-login group. There the
 * CRL is the server operator's own job, as it is in production: `crlRefreshSeconds` is not used,
 * and a revocation the server never learns of is a `fail` like any other.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { anyPathAllowed } from '../../../scenarios/verdict.ts';
import { credentialOf, type Credential, type CredentialType, type PointOfUse, type ProbeResult } from '../../contract.ts';
import { certUserName, commonName, createCertRole, distributionPoints, leafOf, removeCertRole, selfSignedCertificate } from '../certificates.ts';
import type { PgClient, PgSettings } from '../client.ts';
import { type CrlRefresher, startCrlRefresher } from '../crl.ts';
import { tableEntitlements } from '../entitlements.ts';
import { certificateExtensions, holderPasswordPaths, type PasswordRead } from '../extension.ts';
import { applicationName, createFixtures, fixturesOf, type PgContext, removeFixtures } from '../fixtures.ts';
import { loginAndRead, readCertificateFailure } from '../probes.ts';
import { CERT_USER_TERM, DATABASE_TERM, GRANT_ROLE_TERM, TABLE_TERM } from '../terms.ts';

const params = z.strictObject({
  /**
   * How often the point of use fetches the CA's CRL into the server's CRL directory, seconds;
   * null (or absent): fetched once, when the CA's first certificate is used, and never again. Not
   * used on an external target, whose CRL its operator keeps.
   */
  crlRefreshSeconds: seconds.refine((s) => s > 0, 'must be more than 0').nullable().default(null),
});
type Params = z.infer<typeof params>;
type Ctx = PgContext<Params>;

const ACCEPTS: readonly CredentialType[] = ['tls-client-certificate'];

const CERT_USER = 'certUser';
const REFRESHERS = 'crlRefreshers';
const DISTRIBUTION_POINTS = 'distributionPoints';

interface CertTarget {
  serverCa: string;
  /** The server's CRL directory when jitc keeps it (its own local target); absent: the server's operator keeps the CRL. */
  crlDir?: string;
  group: string;
}

/** The target's TLS as the connection states it; a target without it takes no certificate login jitc can judge. */
function certTarget(settings: PgSettings): CertTarget {
  const { caCertFile, crlDir, certLoginGroup } = settings;
  if (!caCertFile || !certLoginGroup) {
    throw new Error(
      'postgres/cert-login needs a PostgreSQL that takes certificate logins: the local target, or an external one whose postgres.certLogin names the CA of its server certificate and the group pg_hba.conf admits by certificate',
    );
  }
  return { serverCa: readFileSync(caCertFile, 'utf8'), ...(crlDir ? { crlDir } : {}), group: certLoginGroup };
}

/** Who keeps the server's CRL current, for evidence. */
function crlKeeper(ctx: Ctx, target: CertTarget): string {
  if (!target.crlDir) return "the server's operator (an external target): jitc neither writes nor refreshes it, and judges only what the server answers";
  return ctx.params.crlRefreshSeconds === null ? 'this point of use, fetched once and never refreshed' : `this point of use, every ${ctx.params.crlRefreshSeconds} s from the CA's distribution point`;
}

function certUser(ctx: Ctx): string {
  const user = ctx.state.get(CERT_USER) as string | undefined;
  if (!user) throw new Error('no certificate role: setup did not run');
  return user;
}

/** The refreshers started for this scenario, by distribution point; a start in flight is one too, so two probes never start two. */
function refreshers(ctx: Ctx): Map<string, Promise<CrlRefresher>> {
  let found = ctx.state.get(REFRESHERS) as Map<string, Promise<CrlRefresher>> | undefined;
  if (!found) ctx.state.set(REFRESHERS, (found = new Map()));
  return found;
}

/** A credential this point cannot use proves nothing about the table: unknown, never denied. */
function unusable(credential: Credential): ProbeResult {
  return { outcome: 'unknown', at: new Date().toISOString(), detail: `postgres/cert-login cannot use a ${credential.type} credential (it accepts ${ACCEPTS.join(', ')})` };
}

/**
 * The CRL of the certificate's issuer, kept current from its distribution point: started the first
 * time one of its certificates is seen. A certificate naming no distribution point is left to the
 * server, which refuses it unless it already holds a CRL for its issuer.
 */
async function keepCrl(ctx: Ctx, certificate: string): Promise<void> {
  // Read once per certificate: the reuse poll presents the same one many times.
  let known = ctx.state.get(DISTRIBUTION_POINTS) as Map<string, string[]> | undefined;
  if (!known) ctx.state.set(DISTRIBUTION_POINTS, (known = new Map()));
  const urls = known.get(certificate) ?? (await distributionPoints(leafOf(certificate)));
  known.set(certificate, urls);
  const running = refreshers(ctx);
  const url = urls.find((u) => u.startsWith('http://') || u.startsWith('https://'));
  if (!url) return;
  const { crlDir } = ctx.client.settings;
  // An external server's CRL is its operator's: nothing is fetched into it.
  if (!crlDir) return;
  let started = running.get(url);
  if (!started) {
    started = startCrlRefresher({ url, dir: crlDir, periodSeconds: ctx.params.crlRefreshSeconds, evidence: ctx.evidence, signal: ctx.signal });
    running.set(url, started);
    // A first fetch that failed is tried again by the next login with that CA, not remembered.
    started.catch(() => running.delete(url));
  }
  await started;
}

/** Log in as the certificate role with `tls` on a new connection (to `node` when given), read the table, close. */
function certificateRead(ctx: Ctx, tls: { certificate: string; privateKey: string }, how: string, node?: string): Promise<ProbeResult> {
  const user = certUser(ctx);
  const { serverCa } = certTarget(ctx.client.settings);
  const options = { applicationName: applicationName(ctx), ...(node ? { node } : {}) };
  return loginAndRead(ctx.client.certificateLogin(user, { ...tls, serverCa }, options), user, fixturesOf(ctx).table, readCertificateFailure, how);
}

/** A password login as `user` on a new connection (to `node` when given), reading the table: the path a certificate role must not have. */
function passwordRead(ctx: Ctx): PasswordRead {
  return (login, node) =>
    loginAndRead(ctx.client.login(login.user, login.password, { applicationName: applicationName(ctx), ...(node ? { node } : {}) }), login.user, fixturesOf(ctx).table, undefined, ' with a password, without a certificate');
}

/** Describe the certificate for a probe's detail: serial and subject, never its key. */
function describeCertificate(certificate: string): string {
  try {
    const leaf = leafOf(certificate);
    return ` by certificate serial ${leaf.serialNumber} (CN ${commonName(leaf.subject) ?? '?'})`;
  } catch {
    return ' by certificate';
  }
}

/** The certificate login, after making sure its CA's CRL is kept; a CRL that cannot be fetched leaves the answer unknown. */
async function probeCertificate(ctx: Ctx, credential: Credential, node?: string): Promise<ProbeResult> {
  const cert = credentialOf(credential, 'tls-client-certificate');
  if (!cert) return unusable(credential);
  try {
    await keepCrl(ctx, cert.certificate);
  } catch (error) {
    return { outcome: 'unknown', at: new Date().toISOString(), detail: `the CRL of the certificate's CA could not be fetched into the server's CRL directory: ${(error as Error).message}` };
  }
  return certificateRead(ctx, cert, describeCertificate(cert.certificate), node);
}

export const certLoginPoint: PointOfUse<Params, PgClient> = {
  title: 'Read a table with a client certificate, against a CRL the point of use refreshes',
  params,
  accepts: ACCEPTS,
  offers: [CERT_USER_TERM, GRANT_ROLE_TERM, TABLE_TERM, DATABASE_TERM],
  checks: () => [],

  remediation: {
    'reuse-denied':
      "Revoke the certificate at its CA when the task ends, and have PostgreSQL read that CA's CRL fresh: fetch it from the CA's CRL distribution point into ssl_crl_dir (as <issuer hash>.r0) at least as often as the revocation deadline; a CRL deployed once never learns of a revocation",
    'holder-cannot-extend':
      "Admit certificate roles by certificate only: right after the hostssl … +<group> … cert line in pg_hba.conf, a host all +<group> … reject line for the same addresses, so a password the holder of a certificate sets on its own role (ALTER ROLE CURRENT_USER PASSWORD, which any role may run) opens no login; no CRL ends a password",
    'zero-standing-privilege':
      "Admit the certificate role by certificate only (hostssl … cert in pg_hba.conf), trust only the CA that issues task certificates (ssl_ca_file), and give the role no password and no membership outside the grant",
  },

  async setup(ctx) {
    const target = certTarget(ctx.client.settings);
    // A visible gap per control (reports/writers/summary.ts) rather than silence: the grant ends in
    // its CA's CRL, and the server logs a refused handshake before any user name is known.
    ctx.evidence.record("audit-trail not evidenced at this point of use: a certificate's end is its CA's CRL, which PostgreSQL's log does not record, and a refused handshake is logged without a user name to correlate", {
      notEvidenced: 'audit-trail',
    });
    const fixtures = await createFixtures(ctx);
    const user = certUserName(ctx.prefix);
    // Known before it exists, so teardown removes whatever a failed setup left.
    ctx.state.set(CERT_USER, user);
    await createCertRole(ctx.client, user, fixtures.grantRole, target.group);
    ctx.evidence.record('certificate role created: no password, member of the grant role and of the group pg_hba.conf admits by certificate', {
      user,
      grantRole: fixtures.grantRole,
      certificateLoginGroup: target.group,
      crlKeptBy: crlKeeper(ctx, target),
    });
    const database = ctx.client.settings.database;
    return {
      description: `read table ${fixtures.table} in database ${database}, logged in as ${user} by client certificate`,
      terms: { [CERT_USER_TERM]: user, [GRANT_ROLE_TERM]: fixtures.grantRole, [TABLE_TERM]: fixtures.table, [DATABASE_TERM]: database },
      requester: fixtures.requester,
    };
  },

  // The certificate role is a member of the grant role from setup on (a certificate is what it
  // lacks), so it is in the baseline too; anything else reaching the table is residue, a password
  // its holder set on it included.
  async entitlements(ctx) {
    return [...(await tableEntitlements(ctx.client, fixturesOf(ctx), [])), ...(await holderPasswordPaths(ctx, passwordRead(ctx)))].sort();
  },

  async probeStanding(ctx) {
    const { requester } = fixturesOf(ctx);
    const user = certUser(ctx);
    const selfSigned = await selfSignedCertificate(user);
    ctx.secrets.add(selfSigned.privateKey);
    const asRequester = loginAndRead(ctx.client.login(requester.user, requester.password, { applicationName: applicationName(ctx) }), requester.user, fixturesOf(ctx).table);
    // The certificate role without a certificate, over plain TCP: pg_hba.conf must turn it away.
    const withoutCertificate = loginAndRead(ctx.client.login(user, 'no-password-works', { applicationName: applicationName(ctx) }), user, fixturesOf(ctx).table, undefined, ' without a certificate');
    const withSelfSigned = certificateRead(ctx, selfSigned, ` with a self-signed certificate for CN ${user}`);
    return anyPathAllowed(await Promise.all([asRequester, withoutCertificate, withSelfSigned]));
  },

  probe: (ctx, credential, node) => probeCertificate(ctx, credential, node),

  use: (ctx, credential) => probeCertificate(ctx, credential),

  async inspect(_ctx, credential) {
    const cert = credentialOf(credential, 'tls-client-certificate');
    if (!cert) return undefined;
    const leaf = leafOf(cert.certificate);
    const until = new Date(leaf.validTo);
    const from = new Date(leaf.validFrom);
    return {
      expiresAt: until.toISOString(),
      issuedAt: from.toISOString(),
      ttlSeconds: Math.round((until.getTime() - Date.now()) / 1000),
      attributes: { serial: leaf.serialNumber, subject: leaf.subject.replace(/\n/g, ', '), issuer: leaf.issuer.replace(/\n/g, ', ') },
      detail: `the certificate is valid until ${until.toISOString()}, which PostgreSQL enforces at every handshake; until then only a CRL it reads can end it`,
    };
  },

  extensions(ctx, credential) {
    const cert = credentialOf(credential, 'tls-client-certificate');
    if (!cert) return [];
    const user = certUser(ctx);
    return certificateExtensions(
      ctx,
      {
        user,
        how: describeCertificate(cert.certificate).trim(),
        async open() {
          // As every use and probe: the database refuses a revoked certificate only once the CRL it holds says so.
          await keepCrl(ctx, cert.certificate);
          const { serverCa } = certTarget(ctx.client.settings);
          return ctx.client.certificateLogin(user, { certificate: cert.certificate, privateKey: cert.privateKey, serverCa }, { applicationName: applicationName(ctx) });
        },
        readLoginFailure: readCertificateFailure,
      },
      passwordRead(ctx),
    );
  },

  // The password the holder may have set goes with the certificate role.
  async teardown(ctx) {
    const removed: string[] = [];
    for (const started of refreshers(ctx).values()) {
      const refresher = await started.catch(() => undefined);
      if (refresher) removed.push(...refresher.stop());
    }
    refreshers(ctx).clear();
    const user = ctx.state.get(CERT_USER) as string | undefined;
    // The fixtures first: removing them ends this scenario's sessions, the certificate role's included.
    let failed: unknown;
    try {
      removed.push(...(await removeFixtures(ctx)));
    } catch (error) {
      failed = error;
    }
    if (user) removed.push(...(await removeCertRole(ctx.client, user)));
    if (failed) throw failed;
    return removed;
  },
};
