/** The Vault/OpenBao adapter: native JIT through token TTLs, AppRole secret_ids and response wrapping. */
import type { Adapter } from '../contract.ts';
import { cleanupVault } from './cleanup.ts';
import { connectVault, type VaultClient } from './client.ts';
import { approleMechanism } from './mechanisms/approle.ts';
import { tokenMechanism } from './mechanisms/token.ts';
import { wrappingMechanism } from './mechanisms/wrapping.ts';
import { vaultTargets } from './targets.ts';

const vaultAdapter: Adapter<VaultClient> = {
  name: 'vault',
  title: 'HashiCorp Vault / OpenBao',
  products: ['HashiCorp Vault', 'OpenBao'],
  targets: vaultTargets,
  connect: async (connection) => connectVault(connection),
  mechanisms: {
    token: tokenMechanism,
    'approle-secret-id': approleMechanism,
    'wrapped-response': wrappingMechanism,
  },
  cleanup: cleanupVault,
};

export default vaultAdapter;
