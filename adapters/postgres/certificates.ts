/**
 * What the `cert-login` point of use needs beside the table's fixtures: the role a certificate
 * logs in as, and the certificates it reads. The role is a LOGIN role without a password, member
 * of the grant role and of the group pg_hba.conf admits by certificate: nobody logs in as it but
 * the holder of a certificate with its name as CN, from a CA the server trusts, not on a CRL.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PgClient, quoteIdent } from './client.ts';
import { dropRole } from './fixtures.ts';
import { scenarioName } from './names.ts';
import { pgErrorText } from './probes.ts';
import { openssl } from './tls.ts';

/** The role a scenario's certificates log in as: `<prefix>-cert`, which is also their CN. */
export function certUserName(prefix: string): string {
  return scenarioName(prefix, 'cert');
}

/** Create the certificate role: no password, member of the grant role and of the certificate-login group. */
export async function createCertRole(client: PgClient, user: string, grantRole: string, group: string): Promise<void> {
  try {
    await client.admin.query(`CREATE ROLE ${quoteIdent(user)} LOGIN IN ROLE ${quoteIdent(grantRole)}, ${quoteIdent(group)}`);
  } catch (error) {
    throw new Error(`creating the certificate role ${user}: ${pgErrorText(error)}`);
  }
}

/** Drop it if it is there; returns what was removed. */
export async function removeCertRole(client: PgClient, user: string): Promise<string[]> {
  const found = await client.admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
  if (!found.rowCount) return [];
  await dropRole(client, user);
  return [`role ${user}`];
}

/** The PEM blocks of a certificate file or chain, in order. */
export function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** The leaf of a presented chain: the first certificate. */
export function leafOf(pem: string): X509Certificate {
  const [leaf] = pemBlocks(pem);
  if (!leaf) throw new Error('the credential holds no PEM certificate');
  return new X509Certificate(leaf);
}

/** The CN of a distinguished name as Node prints it (`CN=…` lines). */
export function commonName(dn: string): string | undefined {
  return /^CN=(.*)$/m.exec(dn)?.[1];
}

/** The URIs of the certificate's CRL distribution points, as openssl reads the extension. */
export async function distributionPoints(leaf: X509Certificate): Promise<string[]> {
  const text = await openssl('read the certificate\'s CRL distribution points', ['x509', '-noout', '-ext', 'crlDistributionPoints'], { input: leaf.toString() });
  return [...text.matchAll(/URI:(\S+)/g)].map((m) => m[1] ?? '').filter(Boolean);
}

/**
 * A certificate for `cn` that no CA signed (its own issuer), and its key: what anyone can make, so
 * what the server must refuse. The key is worthless, and still a key: the caller registers it.
 */
export async function selfSignedCertificate(cn: string): Promise<{ certificate: string; privateKey: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'jitc-selfsigned-'));
  try {
    await openssl('make a self-signed certificate', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', `/CN=${cn.replace(/[/\\]/g, '\\$&')}`,
      '-addext', 'extendedKeyUsage=clientAuth',
    ]);
    return { certificate: readFileSync(join(dir, 'cert.pem'), 'utf8'), privateKey: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
