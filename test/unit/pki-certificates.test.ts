/**
 * Client certificates at PostgreSQL, short of a running server: the server's TLS refusals of a
 * certificate are denials only as OpenSSL raises an alert received from the peer, everything else
 * about TLS is unknown; CRLs are read as openssl reads them and written as OpenSSL's directory
 * lookup wants them; the credential's key is a secret from birth; the scenario and its broken
 * variants load as their halves declare.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { bornCredential, publicId, sameCredential } from '../../adapters/contract.ts';
import { commonName, leafOf, pemBlocks, selfSignedCertificate } from '../../adapters/postgres/certificates.ts';
import { crlPem, parseCrlFacts } from '../../adapters/postgres/crl.ts';
import { readCertificateFailure } from '../../adapters/postgres/probes.ts';
import { makeLocalTls, OPENSSL, parseIssuerHash } from '../../adapters/postgres/tls.ts';
import { pkiCertificateSource } from '../../adapters/vault/grants/pki-certificate.ts';
import { certLoginPoint } from '../../adapters/postgres/points/cert-login.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { loadVariants } from '../support/twins.ts';

/** An error as Node raises a TLS alert received from the peer during the handshake. */
function alertReceived(code: string, reason: string, alert: number): Error {
  return Object.assign(new Error(`80EC2E8DCD7F0000:error:0A000418:SSL routines:ssl3_read_bytes:${reason}:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number ${alert}\n`), {
    code,
    library: 'SSL routines',
    reason,
  });
}

describe("reading the server's answer to a certificate", () => {
  test('certificate revoked, certificate expired and unknown CA, received from the server, are denials naming the alert', () => {
    expect(readCertificateFailure(alertReceived('ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED', 'sslv3 alert certificate revoked', 44))).toEqual({
      outcome: 'denied',
      detail: 'TLS alert certificate_revoked (44) from the server: the certificate is on a CRL it holds',
    });
    expect(readCertificateFailure(alertReceived('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'sslv3 alert certificate expired', 45))).toMatchObject({ outcome: 'denied', detail: expect.stringMatching(/^TLS alert certificate_expired \(45\) from the server/) });
    expect(readCertificateFailure(alertReceived('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'tlsv1 alert unknown ca', 48))).toMatchObject({ outcome: 'denied', detail: expect.stringMatching(/^TLS alert unknown_ca \(48\) from the server/) });
  });

  test('a code alone, or a code whose reason or alert number does not match, is unknown', () => {
    expect(readCertificateFailure(Object.assign(new Error('certificate revoked (a proxy said so)'), { code: 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED' })).outcome).toBe('unknown');
    expect(readCertificateFailure(alertReceived('ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED', 'sslv3 alert certificate expired', 44)).outcome).toBe('unknown');
    expect(readCertificateFailure(alertReceived('ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED', 'sslv3 alert certificate revoked', 45)).outcome).toBe('unknown');
    expect(readCertificateFailure({ code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' }).outcome).toBe('unknown');
  });

  test("other TLS failures — the client's own doubt about the server, another alert, a reset — are unknown", () => {
    for (const error of [
      Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }),
      Object.assign(new Error("Hostname/IP does not match certificate's altnames"), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }),
      alertReceived('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'sslv3 alert handshake failure', 40),
      alertReceived('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'sslv3 alert bad certificate', 42),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      new Error('Connection terminated unexpectedly'),
    ]) {
      expect(readCertificateFailure(error).outcome, String((error as { code?: string }).code ?? error.message)).toBe('unknown');
    }
  });

  test("the server's own refusal after the handshake stays a denial: 28000 when the CN is not the role", () => {
    const error = new pg.DatabaseError('certificate authentication failed for user "jitc-r-x-cert"', 0, 'error');
    error.code = '28000';
    error.severity = 'FATAL';
    expect(readCertificateFailure(error)).toEqual({ outcome: 'denied', detail: 'FATAL 28000 invalid_authorization_specification: certificate authentication failed for user "jitc-r-x-cert"' });
  });
});

describe('CRLs as openssl reads them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jitc-pki-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a CA of the target and its CRL: DER in, PEM out, with its issuer hash, number, revocations and dates', async () => {
    const tls = await makeLocalTls(dir, undefined);
    const [rootCrl] = execFileSync('ls', [tls.crlDir], { encoding: 'utf8' }).trim().split('\n');
    const hash = parseIssuerHash(execFileSync(OPENSSL, ['x509', '-in', tls.caCertFile, '-noout', '-hash'], { encoding: 'utf8' }));
    // OpenSSL's directory lookup finds a CRL by its issuer's hash: the root's own, empty.
    expect(rootCrl).toBe(`${hash}.r0`);
    const pem = readFileSync(join(tls.crlDir, rootCrl ?? ''), 'utf8');
    const der = execFileSync(OPENSSL, ['crl', '-outform', 'DER'], { input: pem });
    expect(crlPem(der)).toBe(pem);
    expect(crlPem(Buffer.from(pem))).toBe(pem);
    const facts = parseCrlFacts(execFileSync(OPENSSL, ['crl', '-noout', '-hash', '-crlnumber', '-lastupdate', '-nextupdate', '-text'], { input: pem, encoding: 'utf8' }));
    expect(facts).toMatchObject({ issuerHash: hash, crlNumber: 1, revoked: 0 });
    expect(Date.parse(facts.nextUpdate ?? '') - Date.parse(facts.lastUpdate ?? '')).toBe(30 * 86_400_000);
    // The server's key is for the server alone; the root's key for jitc alone.
    for (const key of [tls.caKeyFile, tls.serverKeyFile]) expect(execFileSync('stat', ['-c', '%a', key], { encoding: 'utf8' }).trim()).toBe('600');
  });

  test('revocations are counted, and the number read in hex', () => {
    const output = ['issuer name hash=0a1b2c3d', 'crlNumber=0x1F', 'lastUpdate=Dec  6 15:34:26 2026 GMT', 'nextUpdate=Dec  9 15:34:26 2026 GMT', 'Revoked Certificates:', '    Serial Number: 75D2', '        Revocation Date: Dec  6 15:35:00 2026 GMT', '    Serial Number: 5FC7', ''].join('\n');
    expect(parseCrlFacts(output)).toEqual({ issuerHash: '0a1b2c3d', crlNumber: 31, revoked: 2, lastUpdate: '2026-12-06T15:34:26.000Z', nextUpdate: '2026-12-09T15:34:26.000Z' });
    expect(() => parseCrlFacts('crlNumber=0x01')).toThrow(/no issuer hash/);
  });

  test('a self-signed certificate names the CN asked for and issues itself; its key is a key', async () => {
    const made = await selfSignedCertificate('jitc-r-x-cert');
    const leaf = leafOf(made.certificate);
    expect(commonName(leaf.subject)).toBe('jitc-r-x-cert');
    expect(leaf.issuer).toBe(leaf.subject);
    expect(createPrivateKey(made.privateKey).type).toBe('private');
    expect(pemBlocks(`${made.certificate}\n${made.certificate}`)).toHaveLength(2);
  });
});

describe('the credential and the halves', () => {
  test("a client certificate's key is registered where it is born, and its public id is the serial", () => {
    const secrets = new SecretRegistry();
    const credential = bornCredential(secrets, { type: 'tls-client-certificate', subject: 'CN=x', serial: '1d:40', certificate: 'PEM', privateKey: 'KEY-MATERIAL-xyz' });
    expect(secrets.values()).toEqual(['KEY-MATERIAL-xyz']);
    expect(publicId(credential)).toBe('1d:40');
    expect(sameCredential(credential, { ...credential, serial: '1d:41' })).toBe(true);
    expect(sameCredential(credential, { ...credential, serial: '1d:41', privateKey: 'other' })).toBe(false);
  });

  test('the pki source caps the role at the window unless told, revokes unless told, and hands out what cert-login accepts', () => {
    expect(pkiCertificateSource.params.parse({ ttlSeconds: '60s' })).toEqual({ ttlSeconds: 60, revokeAtEnd: 'certificate' });
    expect(pkiCertificateSource.params.safeParse({ ttlSeconds: 0 }).success).toBe(false);
    expect(pkiCertificateSource.issues).toEqual(['tls-client-certificate']);
    expect(certLoginPoint.accepts).toEqual(['tls-client-certificate']);
    expect(certLoginPoint.offers).toEqual(expect.arrayContaining([...pkiCertificateSource.needs]));
    expect(certLoginPoint.params.parse({ crlRefreshSeconds: null })).toEqual({ crlRefreshSeconds: null });
    // Absent: fetched once and never refreshed, as null says (an external server's CRL is its operator's).
    expect(certLoginPoint.params.parse({})).toEqual({ crlRefreshSeconds: null });
    expect(certLoginPoint.params.safeParse({ crlRefreshSeconds: 0 }).success).toBe(false);
  });

  test('pki-cert-revoke refreshes the CRL faster than its deadline; its twin never refreshes it; its mutants change one thing each', async () => {
    const scenario = (await loadBuiltinScenarios(['postgres'])).find((s) => s.id === 'pki-cert-revoke');
    expect(scenario).toMatchObject({ grant: { adapter: 'vault', name: 'pki-certificate' }, use: { adapter: 'postgres', name: 'cert-login', params: { crlRefreshSeconds: 2 } }, end: { mode: 'revoke' } });
    const refresh = (scenario?.use.params as { crlRefreshSeconds: number }).crlRefreshSeconds;
    expect(refresh).toBeLessThan(scenario?.reuse.deadlineSeconds ?? 0);
    const twin = (await loadVariants('postgres', 'twins')).find((t) => t.of === 'pki-cert-revoke');
    expect(twin?.scenario.use.params).toEqual({ crlRefreshSeconds: null });
    expect(twin?.failedChecks).toEqual(['reuse-denied']);
    const mutants = (await loadVariants('postgres', 'mutants')).filter((m) => m.of === 'pki-cert-revoke');
    expect(mutants.map((m) => m.name).sort()).toEqual(['pki-cert-beyond-window', 'pki-cert-crl-refresh-too-slow', 'pki-cert-not-revoked']);
  });
});
