/**
 * The Vault/OpenBao adapter. One point of use — reading a KV v2 secret with a Vault token — and
 * three native grant sources: a token with a TTL, an AppRole secret_id limited in uses and time,
 * and a response-wrapped token. Each source is also a native pair with `kv-secret` under its own
 * name, which scenario files give as `mechanism:`.
 */
import type { Adapter } from '../contract.ts';
import { cleanupVault } from './cleanup.ts';
import { cleanupJwtMounts, jwtMountLeftovers } from './jwt-login.ts';
import { vaultLeftovers } from './leftovers.ts';
import { lookUpVault } from './look-up.ts';
import { connectVault, type VaultClient } from './client.ts';
import { approleSource } from './grants/approle.ts';
import { breakGlassSource } from './grants/break-glass.ts';
import { databaseSource } from './grants/database.ts';
import { ldapDynamicRoleSource } from './grants/ldap-dynamic-role.ts';
import { pkiCertificateSource } from './grants/pki-certificate.ts';
import { sshCertificateSource } from './grants/ssh-certificate.ts';
import { tokenSource } from './grants/token.ts';
import { wrappingSource } from './grants/wrapping.ts';
import { kvSecretPoint } from './points/kv-secret.ts';
import { vaultTargets } from './targets.ts';

const vaultAdapter: Adapter<VaultClient> = {
  name: 'vault',
  title: 'HashiCorp Vault / OpenBao',
  products: ['HashiCorp Vault', 'OpenBao'],
  targets: vaultTargets,
  connect: async (connection) => connectVault(connection),
  grantSources: {
    token: tokenSource,
    'approle-secret-id': approleSource,
    'wrapped-response': wrappingSource,
    database: databaseSource,
    'ssh-certificate': sshCertificateSource,
    'pki-certificate': pkiCertificateSource,
    'ldap-dynamic-role': ldapDynamicRoleSource,
    'break-glass': breakGlassSource,
  },
  pointsOfUse: {
    'kv-secret': kvSecretPoint,
  },
  pairs: {
    token: { source: 'token', pointOfUse: 'kv-secret' },
    'approle-secret-id': { source: 'approle-secret-id', pointOfUse: 'kv-secret' },
    'wrapped-response': { source: 'wrapped-response', pointOfUse: 'kv-secret' },
    'break-glass': { source: 'break-glass', pointOfUse: 'kv-secret' },
  },
  // Auth mounts a federated login enabled (jwt-login.ts) are swept beside the rest.
  cleanup: async (client, runId) => {
    const [own, jwt] = [await cleanupVault(client, runId), await cleanupJwtMounts(client, runId)];
    return { removed: [...own.removed, ...jwt.removed], failed: [...own.failed, ...jwt.failed] };
  },
  leftovers: async (client, runId) => [...(await vaultLeftovers(client, runId)), ...(await jwtMountLeftovers(client, runId))].sort(),
  discover: async (client, policy) => (await import('./discover.ts')).discoverVault(client, policy),
  lookUp: lookUpVault,
  longWait: { scenario: 'token-ttl-expiry', ttlParam: 'ttlSeconds' },
  // Both spellings: the `vault` and `bao` CLIs each read their own.
  hookEnvironment: ({ address, settings }) => ({ VAULT_ADDR: address, BAO_ADDR: address, VAULT_TOKEN: settings.token ?? '', BAO_TOKEN: settings.token ?? '' }),
};

export default vaultAdapter;
