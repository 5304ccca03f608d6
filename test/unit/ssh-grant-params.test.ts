/**
 * The `ssh-certificate` grant source's params: its own role and mount, or the user's existing
 * ones named together and used as they are; and the point of use's profiles and broken setups.
 */
import { describe, expect, test } from 'vitest';
import { runCommandPoint } from '../../adapters/ssh/points/run-command.ts';
import { sshCertificateSource } from '../../adapters/vault/grants/ssh-certificate.ts';

const issues = (params: unknown): string[] => {
  const parsed = sshCertificateSource.params.safeParse(params);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('ssh-certificate params', () => {
  test('a TTL makes a role of its own, capped at the window unless a broken setup lifts the cap', () => {
    expect(sshCertificateSource.params.parse({ ttlSeconds: 3 })).toEqual({ ttlSeconds: 3, extensions: [], keyType: 'ed25519' });
    expect(sshCertificateSource.params.parse({ ttlSeconds: '30s', maxTtlSeconds: null })).toMatchObject({ ttlSeconds: 30, maxTtlSeconds: null });
    expect(issues({})).toEqual(['ttlSeconds: required unless mount and role name an existing role']);
    expect(issues({ ttlSeconds: 0 })).toEqual(['ttlSeconds: must be more than 0']);
  });

  test("an existing mount and role come together, and nothing of the broker's own is set beside them", () => {
    expect(issues({ mount: 'ssh-client-signer', role: 'deploy' })).toEqual([]);
    expect(issues({ mount: 'ssh-client-signer', ttlSeconds: 3 })).toEqual(['role: mount and role name an existing engine and role together: give both, or neither']);
    expect(issues({ mount: 'm', role: 'r', maxTtlSeconds: 60 })).toEqual(['maxTtlSeconds: not with role: an existing role is used with its own settings, and nothing but the certificate is created']);
    expect(issues({ mount: 'm', role: 'r', extensions: ['permit-pty'] })).toEqual(['extensions: not with role: an existing role is used with its own settings, and nothing but the certificate is created']);
  });

  test('it can only end by expiry: OpenBao cannot revoke a certificate', () => {
    expect(sshCertificateSource.endModes?.({ ttlSeconds: 3, extensions: [], keyType: 'ed25519' })).toEqual(['expire']);
  });
});

describe('run-command params', () => {
  test('stock by default, holding sessions open; only known profiles', () => {
    expect(runCommandPoint.params.parse({})).toEqual({ profile: 'stock', keepSessionsOpen: true, standingCertificate: false });
    expect(runCommandPoint.params.safeParse({ profile: 'paranoid' }).success).toBe(false);
    expect(runCommandPoint.checks({ profile: 'hardened', keepSessionsOpen: true, standingCertificate: false })).toEqual(['session-ended-with-task', 'audit-trail']);
    expect(runCommandPoint.checks({ profile: 'hardened', keepSessionsOpen: false, standingCertificate: false })).toEqual(['audit-trail']);
  });
});
