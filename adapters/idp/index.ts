/**
 * The identity-provider adapter: OIDC tokens from a real Keycloak. Four grant sources (the
 * broker half: `client-credentials`, a service account's access token; `user-session`, a task
 * user's login ended by an admin logout; `break-glass`, an emergency session through a client
 * kept to its break-glass identity; `federated-vault`, a task user's login traded for a
 * Vault token at Vault's jwt auth method, judged at Vault's point of use) and one point of use (the
 * observer half: `resource-server`, a client that introspects the tokens it is shown). Every
 * scenario lives in a realm of its own, named with its prefix, which teardown deletes; the realm
 * saves its events, Keycloak's own record of the grant (audit-trail.ts).
 */
import type { Adapter } from '../contract.ts';
import { cleanupIdp } from './cleanup.ts';
import { connectIdp, type IdpClient } from './client.ts';
import { breakGlassSource } from './grants/break-glass.ts';
import { clientCredentialsSource } from './grants/client-credentials.ts';
import { federatedVaultSource } from './grants/federated-vault.ts';
import { userSessionSource } from './grants/user-session.ts';
import { idpLeftovers } from './leftovers.ts';
import { lookUpIdp } from './look-up.ts';
import { resourceServerPoint } from './points/resource-server.ts';
import { idpTargets } from './targets.ts';

const idpAdapter: Adapter<IdpClient> = {
  name: 'idp',
  title: 'OIDC identity provider (Keycloak)',
  products: ['Keycloak'],
  targets: idpTargets,
  connect: async (connection) => connectIdp(connection),
  grantSources: {
    'client-credentials': clientCredentialsSource,
    'user-session': userSessionSource,
    'federated-vault': federatedVaultSource,
    'break-glass': breakGlassSource,
  },
  pointsOfUse: {
    'resource-server': resourceServerPoint,
  },
  pairs: {
    'client-credentials': { source: 'client-credentials', pointOfUse: 'resource-server' },
    'user-session': { source: 'user-session', pointOfUse: 'resource-server' },
    'break-glass': { source: 'break-glass', pointOfUse: 'resource-server' },
  },
  cleanup: cleanupIdp,
  leftovers: idpLeftovers,
  lookUp: lookUpIdp,
  longWait: { scenario: 'client-credentials-expiry', ttlParam: 'ttlSeconds' },
  hookEnvironment: ({ address, settings }) => ({
    KEYCLOAK_URL: address,
    KEYCLOAK_ADMIN: settings.adminUser ?? '',
    KEYCLOAK_ADMIN_PASSWORD: settings.adminPassword ?? '',
  }),
};

export default idpAdapter;
