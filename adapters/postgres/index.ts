/**
 * The PostgreSQL adapter: where a database login is used and judged. Two points of use read a
 * table only members of its grant role may read — `table-read` with a password login, `cert-login`
 * with a client certificate against a CRL it keeps current itself — and no grant source of its
 * own: logins come from a source in another system (OpenBao's database engine or its pki engine, a
 * user's broker). The local target is a real PostgreSQL 15 cluster the harness initialises and
 * starts itself, with TLS from a root CA of its own.
 */
import type { Adapter } from '../contract.ts';
import { cleanupPostgres } from './cleanup.ts';
import { connectPostgres, type PgClient } from './client.ts';
import { postgresLeftovers } from './leftovers.ts';
import { lookUpPostgres } from './look-up.ts';
import { certLoginPoint } from './points/cert-login.ts';
import { tableReadPoint } from './points/table-read.ts';
import { postgresTargets } from './targets.ts';

const postgresAdapter: Adapter<PgClient> = {
  name: 'postgres',
  title: 'PostgreSQL',
  products: ['PostgreSQL'],
  targets: postgresTargets,
  connect: async (connection) => connectPostgres(connection),
  disconnect: (client) => client.admin.end(),
  grantSources: {},
  pointsOfUse: {
    'table-read': tableReadPoint,
    'cert-login': certLoginPoint,
  },
  pairs: {},
  cleanup: cleanupPostgres,
  leftovers: postgresLeftovers,
  lookUp: lookUpPostgres,
  longWait: { scenario: 'db-lease-expiry', ttlParam: 'ttlSeconds' },
  // libpq's own variables, the admin's login included: a grant source configures its database
  // connection with them (OpenBao's database engine manages the logins it issues as this admin).
  hookEnvironment: ({ settings: s }) => ({
    PGHOST: s.host ?? '',
    PGPORT: s.port ?? '',
    PGDATABASE: s.database ?? '',
    PGUSER: s.user ?? '',
    PGPASSWORD: s.password ?? '',
    PGSSLMODE: s.sslmode ?? '',
    // The local target's root CA, key included: a grant source of the demo signs its issuing CA
    // with it, so the server trusts the certificates that CA issues.
    ...(s.caCertFile && s.caKeyFile ? { JITC_PG_CA_CERT_FILE: s.caCertFile, JITC_PG_CA_KEY_FILE: s.caKeyFile } : {}),
  }),
};

export default postgresAdapter;
