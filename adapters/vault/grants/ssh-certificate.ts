/**
 * `ssh-certificate`: OpenBao's (Vault's) ssh secrets engine as a certificate authority, signing
 * a user certificate for one task's principal, used at an sshd that trusts the CA. The broker
 * mounts the engine under the scenario's prefix, gives it the CA key the point of use's sshd
 * trusts (`targetEnvironment()`: the local sshd's user CA), and creates a role that signs for
 * the task's principal only, with a TTL no longer than the approval window. The grant is one
 * certificate, issued with a key pair the engine makes; what it states about itself (serial,
 * key id, principals, valid-before) is read from the certificate, the statement sshd enforces.
 *
 * OpenBao cannot revoke an SSH certificate: it keeps no record of what it signed, and revocation
 * lives on the sshd (a RevokedKeys list the CA does not write). A certificate can only expire,
 * so `expire` is the only end, and sshd itself must refuse it from its valid-before on. Its
 * holder cannot extend it either: signing needs a Vault token the holder is never given.
 *
 * With `mount:` and `role:` the scenario names the user's own engine mount and role, whose CA
 * the user's sshd trusts: nothing is created or changed, the role is read before and after, and
 * only the certificate is issued.
 *
 * The target's own record of the issue (`audit-trail`) is the audit log's response that signed the
 * certificate, found by its serial (ssh-certificate-trail.ts).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { seconds } from '../../../scenarios/durations.ts';
import { bornCredential, type Grant, type GrantSource } from '../../contract.ts';
import { confirmUnchanged, useExisting } from '../../existing-objects.ts';
import { parseCertificate } from '../../ssh/certificate.ts';
import { PRINCIPAL_TERM } from '../../ssh/terms.ts';
import type { VaultClient } from '../client.ts';
import type { VaultGrantContext } from '../extension.ts';
import { term } from '../terms.ts';
import { judgeSigningTrail, openSigningTrail, rememberSigned } from './ssh-certificate-trail.ts';

const params = z
  .strictObject({
    /** Certificate TTL the broker asks for. With `role`, absent asks the approval window. */
    ttlSeconds: seconds.refine((s) => s > 0, 'must be more than 0').optional(),
    /** The role's max_ttl. Absent: the approval window; null (broken): none, so the mount's maximum applies. */
    maxTtlSeconds: seconds.nullable().optional(),
    /**
     * Broken setup: extensions the role puts on every certificate (permit-port-forwarding,
     * permit-agent-forwarding, permit-X11-forwarding, permit-user-rc), which the task does not need.
     */
    extensions: z.array(z.string().regex(/^[A-Za-z0-9@.-]+$/, 'an OpenSSH certificate extension name')).default([]),
    /** The user's own ssh engine mount, whose CA their sshd trusts (with `role`). */
    mount: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, 'a mount path such as ssh-client-signer').optional(),
    /** The user's own role on that mount, signing for the principal the point of use names. */
    role: z.string().regex(/^[A-Za-z0-9_.@-]+$/, 'a role name').optional(),
    /** Key type of the pair the engine makes with the certificate. */
    keyType: z.enum(['ed25519', 'ec', 'rsa']).default('ed25519'),
  })
  .superRefine((p, issue) => {
    if ((p.mount === undefined) !== (p.role === undefined)) issue.addIssue({ code: 'custom', path: [p.mount === undefined ? 'mount' : 'role'], message: 'mount and role name an existing engine and role together: give both, or neither' });
    if (p.role === undefined && p.ttlSeconds === undefined) issue.addIssue({ code: 'custom', path: ['ttlSeconds'], message: 'required unless mount and role name an existing role' });
    if (p.role === undefined) return;
    const given = { maxTtlSeconds: p.maxTtlSeconds !== undefined, extensions: p.extensions.length > 0 };
    for (const [key, set] of Object.entries(given)) {
      if (set) issue.addIssue({ code: 'custom', path: [key], message: 'not with role: an existing role is used with its own settings, and nothing but the certificate is created' });
    }
  });
type SshParams = z.infer<typeof params>;
type Ctx = VaultGrantContext<SshParams>;

const CREATED = 'createdMount';

/** The engine mount and role certificates are issued from: the user's own, or the scenario's. */
function signer(ctx: Ctx): { mount: string; role: string } {
  return { mount: ctx.params.mount ?? `${ctx.prefix}-ssh`, role: ctx.params.role ?? ctx.prefix };
}

function readCaKey(ctx: Ctx): { privateKey: string; publicKey: string } {
  const env = ctx.pointOfUse.targetEnvironment();
  const keyFile = env.JITC_SSH_CA_KEY_FILE;
  if (!keyFile) {
    throw new Error(`the point of use ${ctx.pointOfUse.name} hands no CA key its sshd trusts (JITC_SSH_CA_KEY_FILE): name the ssh engine mount and role that sign for that sshd (mount, role)`);
  }
  const privateKey = readFileSync(keyFile, 'utf8');
  // Registered before anything can carry it: it travels in the body of config/ca.
  ctx.secrets.add(privateKey);
  return { privateKey, publicKey: readFileSync(env.JITC_SSH_CA_PUBLIC_KEY_FILE ?? `${keyFile}.pub`, 'utf8').trim() };
}

/** Where the certificate is asked for: the path whose response the audit log holds. */
function signingPath(ctx: Ctx): string {
  const { mount, role } = signer(ctx);
  return `${mount}/issue/${role}`;
}

/** Mount the engine under the prefix, give it the sshd's CA, and a role for the principal alone. */
async function createSigner(ctx: Ctx, principal: string): Promise<void> {
  const { api } = ctx.client;
  const { mount, role } = signer(ctx);
  const ca = readCaKey(ctx);
  await api.call('POST', `sys/mounts/${mount}`, { type: 'ssh', description: `jitc ${ctx.task.id}` });
  ctx.state.set(CREATED, mount);
  await api.call('POST', `${mount}/config/ca`, { private_key: ca.privateKey, public_key: ca.publicKey });
  const p = ctx.params;
  const maxTtl = p.maxTtlSeconds === undefined ? ctx.task.windowSeconds : p.maxTtlSeconds;
  const body: Record<string, unknown> = {
    key_type: 'ca',
    allow_user_certificates: true,
    allow_host_certificates: false,
    allowed_users: principal,
    default_user: principal,
    ttl: `${p.ttlSeconds}s`,
    // The role's name carries the prefix: sshd logs it as the key id of every login.
    key_id_format: '{{role_name}}',
    allowed_extensions: p.extensions.join(','),
    default_extensions: Object.fromEntries(p.extensions.map((e) => [e, ''])),
  };
  if (maxTtl !== null) body.max_ttl = `${maxTtl}s`;
  await api.call('POST', `${mount}/roles/${role}`, body);
  ctx.evidence.record('ssh engine mounted with the CA the sshd trusts, and a role for the task', {
    mount,
    role,
    caPublicKey: ca.publicKey.split(/\s+/).slice(0, 2).join(' ').slice(0, 80),
    allowedUsers: principal,
    ttlSeconds: p.ttlSeconds ?? null,
    maxTtlSeconds: maxTtl,
  });
  if (maxTtl === null) ctx.evidence.record('broken setup: the role has no max_ttl, so the mount\'s maximum bounds its certificates');
  if (p.extensions.length > 0) ctx.evidence.record('broken setup: the role puts extensions the task does not need on every certificate', { extensions: p.extensions });
}

export const sshCertificateSource: GrantSource<SshParams, VaultClient> = {
  title: 'SSH user certificate signed by the ssh engine',
  params,
  issues: ['ssh-certificate'],
  needs: [PRINCIPAL_TERM],
  checks: () => ['reuse-denied', 'audit-trail'],
  // OpenBao cannot revoke an SSH certificate (see above): it must expire.
  endModes: () => ['expire'],
  remediation: {
    'ttl-bounded': 'Set max_ttl on the ssh engine role to the approval window (and ttl no longer), so no certificate it signs outlives the task',
    'reuse-denied': "Give certificates a TTL that ends with the approval window, and keep the sshd's clock right: OpenBao cannot revoke a certificate, so its valid-before is the only end",
    'privilege-width': 'Give the role allowed_users for the task\'s principal only and no default_extensions the task does not use (port, agent or X11 forwarding, user rc)',
  },

  async setup(ctx) {
    const principal = term(ctx, PRINCIPAL_TERM);
    const { mount, role } = ctx.params;
    if (mount !== undefined && role !== undefined) {
      await useExisting(ctx, `ssh role ${mount}/${role}`, async () => (await ctx.client.api.call<{ data: Record<string, unknown> }>('GET', `${mount}/roles/${role}`)).data);
    } else {
      await createSigner(ctx, principal);
    }
    await openSigningTrail(ctx, signingPath(ctx));
  },

  // OpenBao keeps no record of the certificates it signs (no lease, no list): nothing to read.
  entitlements: async () => [],

  async request(ctx) {
    const principal = term(ctx, PRINCIPAL_TERM);
    const { mount, role } = signer(ctx);
    const ttl = ctx.params.ttlSeconds ?? ctx.task.windowSeconds;
    const answer = await ctx.client.api.call<{ data: { serial_number: string; signed_key: string; private_key: string; private_key_type: string } }>('POST', signingPath(ctx), {
      key_type: ctx.params.keyType,
      cert_type: 'user',
      valid_principals: principal,
      ttl: `${ttl}s`,
    });
    const issuedAt = new Date();
    const credential = bornCredential(ctx.secrets, { type: 'ssh-certificate', principal, certificate: answer.data.signed_key.trim(), privateKey: answer.data.private_key });
    const cert = parseCertificate(credential.certificate);
    const until = cert.validBefore;
    rememberSigned(ctx, { path: signingPath(ctx), serialHex: answer.data.serial_number, serial: cert.serial });
    const grant: Grant = {
      credentialId: `certificate serial ${cert.serial} (key id ${cert.keyId})`,
      issuedAt: issuedAt.toISOString(),
      expiresAt: until ? until.toISOString() : null,
      ttlRequestedSeconds: ttl,
      // valid-before is whole seconds from the engine's clock: what is left of it when it arrived, rounded up.
      ttlGrantedSeconds: until ? Math.max(0, Math.ceil((until.getTime() - issuedAt.getTime()) / 1000)) : null,
      scopeGranted: [...cert.principals.map((p) => `principal ${p}`), ...cert.extensions.map((e) => `extension ${e}`), ...cert.criticalOptions.map((o) => `critical option ${o}`)],
      attributes: {
        serial: cert.serial,
        serialHex: answer.data.serial_number,
        keyId: cert.keyId,
        validAfter: cert.validAfter?.toISOString() ?? null,
        validBefore: until?.toISOString() ?? null,
        principals: cert.principals.join(','),
        extensions: cert.extensions.join(','),
        criticalOptions: cert.criticalOptions.join(','),
        signingCa: cert.signingCa,
        keyType: answer.data.private_key_type,
        mount,
        role,
      },
      handles: [{ name: 'SSH certificate (a new login with it)', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(credential, node) }],
      // Its holder has no way to stretch it: only a Vault token may sign, and the holder holds none.
      extensions: [],
      credential,
    };
    return grant;
  },

  // `expire` is the only end: the engine waits, and sshd must refuse the certificate by itself.
  end: async () => undefined,

  async teardown(ctx) {
    try {
      await judgeSigningTrail(ctx);
    } catch (error) {
      ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `OpenBao's audit log could not be judged: ${error instanceof Error ? error.message : String(error)}` });
    }
    const created = ctx.state.get(CREATED) as string | undefined;
    if (!created) {
      await confirmUnchanged(ctx);
      return [];
    }
    await ctx.client.api.call('DELETE', `sys/mounts/${created}`);
    return [`mount ${created}`];
  },
};
