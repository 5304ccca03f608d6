/**
 * `pki-certificate`: OpenBao's (Vault's) pki secrets engine issuing a client certificate for one
 * task, used at a database that logs the certificate's CN in by certificate. The certificate is
 * used, and judged, at the point of use, never here: what matters is whether the database stops
 * accepting it once the task ended.
 *
 * The broker mounts the engine under the scenario's prefix and makes it an issuing CA of its own:
 * the engine generates the key and a CSR with a subject naming the scenario, the root CA the point
 * of use's database trusts signs it (`targetEnvironment()`: the local target's root, signed here
 * with the openssl CLI), and the engine takes the signed certificate back. So each scenario's CRL
 * has an issuer of its own, and the database keeps them apart. The engine names its own CRL as the
 * distribution point of every certificate it issues; fetching that CRL is the point of use's job.
 *
 * The role issues for the point of use's certificate role only (its name as CN, nothing else), for
 * client authentication only, with a TTL no longer than the approval window. At task end the broker
 * revokes the certificate by its serial; the CA's own record of it is a second handle
 * (`credential-invalidated`). Its holder cannot extend it: issuing needs a Vault token the holder
 * is never given.
 *
 * Against the user's own PKI (`mount` and `role` named), nothing is mounted or configured: the
 * role is read and recorded, the certificate is issued under it for the point of use's CN and
 * revoked at task end as above, residue is read from the task's own serials (never a list of all
 * the mount issued), and teardown revokes any of them still standing and records the role unchanged.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { bornCredential, type CredentialOf, type Grant, type GrantSource, type ProbeResult } from '../../contract.ts';
import { CERT_USER_TERM } from '../../postgres/terms.ts';
import { openssl } from '../../postgres/tls.ts';
import { probeWith } from '../../probe-shell.ts';
import { confirmUnchanged, useExisting } from '../../existing-objects.ts';
import { describeVaultError } from '../api.ts';
import { readObject } from '../existing.ts';
import type { VaultClient } from '../client.ts';
import type { VaultGrantContext } from '../extension.ts';
import { readRefusal } from '../probes.ts';
import { term } from '../terms.ts';

const params = z
  .strictObject({
    /** Certificate TTL the broker asks for; the role's max_ttl caps it. */
    ttlSeconds: seconds.refine((s) => s > 0, 'must be more than 0'),
    /** The role's max_ttl. Absent: the approval window; null (broken): none, so the mount's maximum applies. */
    maxTtlSeconds: seconds.nullable().optional(),
    /** How the broker ends the grant at task end: revoke the certificate at the CA, or (broken) nothing. */
    revokeAtEnd: z.enum(['certificate', 'nothing']).default('certificate'),
    /**
     * An existing pki mount of the user's, whose CA the point of use's server trusts, and the role
     * on it that issues the task's certificate (it must allow the point of use's certificate role
     * as a bare CN, e.g. allowed_domains `jitc-*` with allow_glob_domains and allow_bare_domains).
     * Nothing is created or changed on them: the certificate is the grant, revoked as any other.
     */
    mount: z.string().min(1).optional(),
    role: z.string().min(1).optional(),
  })
  .superRefine((p, issue) => {
    if ((p.mount === undefined) !== (p.role === undefined)) issue.addIssue({ code: 'custom', path: [p.mount === undefined ? 'mount' : 'role'], message: 'an existing pki role is named by its mount and its role together' });
    if (p.role !== undefined && p.maxTtlSeconds !== undefined) {
      issue.addIssue({ code: 'custom', path: ['maxTtlSeconds'], message: "not with role: an existing role is judged by its own max_ttl, and nothing but the certificate is created" });
    }
  });
type PkiParams = z.infer<typeof params>;
type Ctx = VaultGrantContext<PkiParams>;

const ROLE = 'task';
const MOUNT = 'mount';
const SERIAL = 'serial';
/** Every certificate issued here, by serial: on an existing mount, what teardown must leave revoked. */
const ISSUED = 'issued';
/** TLS web client authentication: the one extended key usage the task needs. */
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

const mountOf = (ctx: Ctx): string => ctx.params.mount ?? `${ctx.prefix}-pki`;
const roleOf = (ctx: Ctx): string => ctx.params.role ?? ROLE;

function issued(ctx: Ctx): string[] {
  let serials = ctx.state.get(ISSUED) as string[] | undefined;
  if (!serials) ctx.state.set(ISSUED, (serials = []));
  return serials;
}

/** Read the user's role, record it, and report what it lets a certificate become. Nothing is written. */
async function useExistingRole(ctx: Ctx, mount: string, role: string): Promise<void> {
  const settings = await useExisting(ctx, `pki role ${mount}/roles/${role}`, () => readObject(ctx.client.api, `${mount}/roles/${role}`, `pki role ${role} on ${mount}`));
  const maxTtl = typeof settings.max_ttl === 'number' ? settings.max_ttl : null;
  ctx.evidence.record(`the existing role caps its certificates at ${maxTtl ? `${maxTtl} s` : "the mount's maximum (no max_ttl of its own)"}; the approval window is ${ctx.task.windowSeconds} s`, {
    maxTtlSeconds: maxTtl,
    windowSeconds: ctx.task.windowSeconds,
    clientFlag: settings.client_flag ?? null,
    serverFlag: settings.server_flag ?? null,
    allowAnyName: settings.allow_any_name ?? null,
  });
}

/** The root CA the point of use trusts, as it hands it on: its certificate and its key's file. */
function trustedRoot(ctx: Ctx): { certFile: string; keyFile: string } {
  const env = ctx.pointOfUse.targetEnvironment();
  const certFile = env.JITC_PG_CA_CERT_FILE;
  const keyFile = env.JITC_PG_CA_KEY_FILE;
  if (!certFile || !keyFile) {
    throw new Error(`the point of use ${ctx.pointOfUse.name} hands on no root CA it trusts (JITC_PG_CA_CERT_FILE, JITC_PG_CA_KEY_FILE) to sign the scenario's issuing CA with`);
  }
  return { certFile, keyFile };
}

/** The root signs the engine's CSR as an issuing CA (no CA below it), for a day: longer than any task certificate. */
export async function signIntermediate(csr: string, root: { certFile: string; keyFile: string }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'jitc-pki-'));
  try {
    writeFileSync(join(dir, 'issuing.csr'), csr);
    writeFileSync(
      join(dir, 'issuing.ext'),
      'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n',
    );
    await openssl("sign the scenario's issuing CA with the point of use's root", [
      'x509', '-req', '-in', join(dir, 'issuing.csr'), '-CA', root.certFile, '-CAkey', root.keyFile,
      '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '1', '-extfile', join(dir, 'issuing.ext'), '-out', join(dir, 'issuing.crt'),
    ]);
    return readFileSync(join(dir, 'issuing.crt'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface CertRecord {
  certificate: string;
  revocation_time: number;
  revocation_time_rfc3339?: string;
}

async function readCert(ctx: Ctx, serial: string, node?: string): Promise<CertRecord> {
  return (await ctx.client.api.send<{ data: CertRecord }>('GET', `${mountOf(ctx)}/cert/${serial}`, { fresh: true, ...(node ? { node } : {}) })).data;
}

/**
 * The CA's own record of the certificate: `denied` once it says revoked, or once the certificate it
 * holds is past its notAfter; `allowed` while it stands; anything else is the call's own failure,
 * which is never a denial.
 */
function statusAtCa(ctx: Ctx, serial: string): (node?: string) => Promise<ProbeResult> {
  return async (node) => {
    let record: CertRecord | undefined;
    const result = await probeWith(
      async () => {
        record = await readCert(ctx, serial, node);
      },
      (error) => ({ outcome: 'unknown', detail: readRefusal(error).detail }),
    );
    if (result.outcome !== 'allowed' || !record) return result;
    if (record.revocation_time > 0) {
      return { ...result, outcome: 'denied', detail: `revoked at the CA at ${record.revocation_time_rfc3339 ?? new Date(record.revocation_time * 1000).toISOString()}` };
    }
    const until = new X509Certificate(record.certificate).validTo;
    if (Date.parse(until) <= Date.now()) return { ...result, outcome: 'denied', detail: `not revoked, but past its notAfter (${new Date(until).toISOString()}) in the CA's record` };
    return { ...result, detail: `the CA holds it unrevoked, valid until ${new Date(until).toISOString()}` };
  };
}

/** Which of these certificates still stand at the CA: neither revoked nor past their notAfter. */
async function liveCertificates(ctx: Ctx, mount: string, serials: readonly string[]): Promise<string[]> {
  const live: string[] = [];
  for (const serial of serials) {
    const record = await readCert(ctx, serial);
    const cert = new X509Certificate(record.certificate);
    if (cert.ca || record.revocation_time > 0 || Date.parse(cert.validTo) <= Date.now()) continue;
    live.push(`certificate serial ${serial} (${cert.subject.replace(/\n/g, ', ')}) unrevoked at ${mount}, valid until ${new Date(cert.validTo).toISOString()}`);
  }
  return live;
}

/** What the certificate lets its holder do, read from the certificate: its CN, any SAN, any usage beyond client authentication. */
function scopeOf(leaf: X509Certificate, cn: string): string[] {
  const scope = [`log in as ${cn} by client certificate`];
  for (const san of (leaf.subjectAltName ?? '').split(', ').filter(Boolean)) scope.push(`subject alternative name ${san}`);
  for (const usage of leaf.keyUsage ?? []) if (usage !== CLIENT_AUTH) scope.push(`extended key usage ${usage}`);
  return scope;
}

/**
 * On the user's mount nothing can be unmounted: every certificate issued for the task that still
 * stands is revoked (its CN names the scenario), and the role is read again to record it unchanged.
 */
async function revokeIssued(ctx: Ctx, mount: string): Promise<string[]> {
  const removed: string[] = [];
  for (const serial of issued(ctx)) {
    const record = await readCert(ctx, serial);
    if (record.revocation_time > 0 || Date.parse(new X509Certificate(record.certificate).validTo) <= Date.now()) continue;
    await ctx.client.api.call('POST', `${mount}/revoke`, { serial_number: serial });
    removed.push(`certificate serial ${serial} revoked at ${mount}`);
  }
  await confirmUnchanged(ctx);
  return removed;
}

export const pkiCertificateSource: GrantSource<PkiParams, VaultClient> = {
  title: 'Client certificate from the pki secrets engine, revoked at task end',
  params,
  issues: ['tls-client-certificate'],
  needs: [CERT_USER_TERM],
  checks: () => ['reuse-denied', 'credential-invalidated', 'holder-cannot-extend'],
  remediation: {
    'ttl-bounded': 'Set max_ttl on the pki role to the approval window (and its ttl no longer), so no certificate it issues outlives the task',
    'credential-invalidated': "Revoke the task's certificate at the CA when the task ends (<mount>/revoke with its serial number)",
    'no-residue': "Revoke every certificate issued for the task when it ends: one left unrevoked logs in until its notAfter wherever its CA is trusted",
  },

  async setup(ctx) {
    const { api } = ctx.client;
    const cn = term(ctx, CERT_USER_TERM);
    const { mount: existingMount, role: existingRole } = ctx.params;
    if (existingMount !== undefined && existingRole !== undefined) return useExistingRole(ctx, existingMount, existingRole);
    const root = trustedRoot(ctx);
    const mount = mountOf(ctx);
    await api.call('POST', `sys/mounts/${mount}`, { type: 'pki', description: `jitc ${ctx.task.id}` });
    ctx.state.set(MOUNT, mount);

    const issuerName = `${ctx.prefix} issuing CA`;
    const generated = await api.call<{ data: { csr: string } }>('POST', `${mount}/intermediate/generate/internal`, { common_name: issuerName, key_type: 'ec', key_bits: 256 });
    const issuing = await signIntermediate(generated.data.csr, root);
    await api.call('POST', `${mount}/intermediate/set-signed`, { certificate: issuing });
    const crl = `${ctx.connection.address}/v1/${mount}/crl`;
    await api.call('POST', `${mount}/config/urls`, { crl_distribution_points: [crl], issuing_certificates: [`${ctx.connection.address}/v1/${mount}/ca`] });

    const p = ctx.params;
    const maxTtl = p.maxTtlSeconds === undefined ? ctx.task.windowSeconds : p.maxTtlSeconds;
    // The engine refuses a role whose ttl exceeds its max_ttl; a request may still ask more, and is capped.
    const roleTtl = maxTtl === null ? p.ttlSeconds : Math.min(p.ttlSeconds, maxTtl);
    await api.call('POST', `${mount}/roles/${ROLE}`, {
      allowed_domains: [cn],
      allow_bare_domains: true,
      allow_subdomains: false,
      allow_glob_domains: false,
      allow_wildcard_certificates: false,
      allow_any_name: false,
      allow_localhost: false,
      allow_ip_sans: false,
      enforce_hostnames: false,
      server_flag: false,
      client_flag: true,
      code_signing_flag: false,
      email_protection_flag: false,
      key_type: 'ec',
      key_bits: 256,
      key_usage: ['DigitalSignature'],
      ttl: `${roleTtl}s`,
      ...(maxTtl === null ? {} : { max_ttl: `${maxTtl}s` }),
      no_store: false,
    });
    const issuer = new X509Certificate(issuing);
    ctx.evidence.record("pki engine mounted as an issuing CA of the scenario's own, signed by the root the point of use trusts, with a role for one CN", {
      mount,
      role: ROLE,
      issuer: issuer.subject.replace(/\n/g, ', '),
      issuerSerial: issuer.serialNumber,
      signedBy: issuer.issuer.replace(/\n/g, ', '),
      crlDistributionPoint: crl,
      allowedCommonName: cn,
      ttlSeconds: roleTtl,
      maxTtlSeconds: maxTtl,
    });
    if (maxTtl === null) ctx.evidence.record("broken setup: the role has no max_ttl, so the mount's maximum bounds its certificates");
  },

  // Certificates the mount issued that are neither revoked nor past their notAfter: listed under the
  // scenario's own mount, never by scanning every mount.
  async entitlements(ctx) {
    // On the user's mount, only the task's own certificates: never a scan of everything it issued.
    if (ctx.params.mount !== undefined) return liveCertificates(ctx, ctx.params.mount, issued(ctx));
    const mount = ctx.state.get(MOUNT) as string | undefined;
    if (mount === undefined) return [];
    let serials: string[];
    try {
      serials = (await ctx.client.api.call<{ data: { keys: string[] } }>('LIST', `${mount}/certs`)).data.keys;
    } catch (error) {
      if (describeVaultError(error).status === 404) return [];
      throw error;
    }
    return liveCertificates(ctx, mount, serials);
  },

  async request(ctx) {
    const cn = term(ctx, CERT_USER_TERM);
    const mount = mountOf(ctx);
    const ttl = ctx.params.ttlSeconds;
    const answer = await ctx.client.api.call<{
      data: { certificate: string; ca_chain?: string[]; issuing_ca: string; private_key: string; serial_number: string; expiration: number };
      warnings?: string[] | null;
    }>('POST', `${mount}/issue/${roleOf(ctx)}`, { common_name: cn, ttl: `${ttl}s`, exclude_cn_from_sans: true, format: 'pem', private_key_format: 'pem' });
    const issuedAt = new Date();
    const { data } = answer;
    const chain = data.ca_chain && data.ca_chain.length > 0 ? data.ca_chain : [data.issuing_ca];
    const credential: CredentialOf<'tls-client-certificate'> = bornCredential(ctx.secrets, {
      type: 'tls-client-certificate',
      subject: `CN=${cn}`,
      serial: data.serial_number,
      certificate: [data.certificate, ...chain].map((pem) => pem.trim()).join('\n'),
      privateKey: data.private_key,
    });
    ctx.state.set(SERIAL, data.serial_number);
    issued(ctx).push(data.serial_number);
    for (const warning of answer.warnings ?? []) ctx.evidence.record(`the engine warned at issue: ${warning}`);
    const leaf = new X509Certificate(data.certificate);
    const until = new Date(leaf.validTo);
    const grant: Grant = {
      credentialId: `certificate serial ${data.serial_number} (CN ${cn})`,
      issuedAt: issuedAt.toISOString(),
      expiresAt: until.toISOString(),
      ttlRequestedSeconds: ttl,
      // notAfter is whole seconds from the engine's clock: what is left of it when it arrived, rounded up.
      ttlGrantedSeconds: Math.max(0, Math.ceil((until.getTime() - issuedAt.getTime()) / 1000)),
      scopeGranted: scopeOf(leaf, cn),
      attributes: {
        serial: data.serial_number,
        subject: leaf.subject.replace(/\n/g, ', '),
        issuer: leaf.issuer.replace(/\n/g, ', '),
        notBefore: new Date(leaf.validFrom).toISOString(),
        notAfter: until.toISOString(),
        extendedKeyUsage: (leaf.keyUsage ?? []).join(','),
        mount,
        role: roleOf(ctx),
        revokeAtEnd: ctx.params.revokeAtEnd,
      },
      handles: [
        { name: 'client certificate (a new TLS login with it)', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(credential, node) },
        { name: 'certificate looked up at the CA', check: 'credential-invalidated', probe: statusAtCa(ctx, data.serial_number) },
      ],
      extensions: [],
      credential,
    };
    grant.extensions = ctx.pointOfUse.extensions(credential, grant);
    return grant;
  },

  async end(ctx, _grant, mode) {
    if (mode !== 'revoke') return;
    if (ctx.params.revokeAtEnd === 'nothing') {
      ctx.evidence.record('broken setup: the broker does nothing at task end');
      return;
    }
    const serial = ctx.state.get(SERIAL) as string;
    const answer = await ctx.client.api.call<{ data: { revocation_time_rfc3339?: string } }>('POST', `${mountOf(ctx)}/revoke`, { serial_number: serial });
    ctx.evidence.record('certificate revoked at the CA', { serial, revokedAt: answer.data.revocation_time_rfc3339 ?? null });
  },

  async teardown(ctx) {
    if (ctx.params.mount !== undefined) return revokeIssued(ctx, ctx.params.mount);
    const mount = ctx.state.get(MOUNT) as string | undefined;
    if (mount === undefined) return [];
    // The issuing CA's key and every certificate record go with the mount.
    await ctx.client.api.call('DELETE', `sys/mounts/${mount}`);
    return [`pki mount ${mount}`];
  },
};
