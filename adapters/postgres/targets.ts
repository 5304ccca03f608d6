/**
 * Reaching a PostgreSQL database.
 * - `local`: the harness's own cluster (cluster.ts): initdb in the run's work directory, the server
 *   on 127.0.0.1 and a free port, SCRAM password logins, and certificate logins over TLS for the
 *   members of one group, against a root CA and CRLs of the target's own (tls.ts); a database
 *   `jitc` for the scenarios.
 * - `external`: any PostgreSQL from the config file and libpq's variables (external.ts).
 * No `container` mode: bring-up says so in one line when it is asked for one.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { ProvisionOptions, StartedTarget, TargetConnection, TargetProvisioning } from '../contract.ts';
import { freePort, startLocalServer } from '../local-process.ts';
import { clientConfig, type PgSettings, quoteIdent } from './client.ts';
import { ADMIN_USER, asServerUser, CERT_LOGIN_GROUP, clusterEnv, CONTEXT_BOUND_GROUP, INITDB, initCluster, ownedDir, POSTGRES, serverArgs, serverLogDir, serverLogFile, serverUser } from './cluster.ts';
import { connectExternal, externalConfig } from './external.ts';
import { makeLocalTls, OPENSSL, tlsServerArgs } from './tls.ts';

/** The database the scenarios' tables live in, on the local cluster. */
export const LOCAL_DATABASE = 'jitc';

/** Run `action` on a new admin connection to `settings`, closed after. */
async function asAdmin<T>(settings: PgSettings, action: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(clientConfig(settings, settings.user, settings.password));
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await action(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The processes the postmaster started (its backends, its logging collector), as /proc states them now. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Stop the server, and return once its processes are gone too: the logging collector outlives the
 * postmaster on purpose (it leaves only when every process writing to it has), so a stop that
 * returned with the postmaster alone would leave it running for a moment after the target is "stopped".
 */
function stopWithCollector(pid: number, stop: () => Promise<void>): () => Promise<void> {
  return async () => {
    const children = childrenOf(pid);
    await stop();
    const until = Date.now() + 5000;
    while (children.some((c) => existsSync(`/proc/${c}`)) && Date.now() < until) await sleep(50);
  };
}

/** Ready: the admin logs in and the server answers a statement. */
function answers(settings: PgSettings): Promise<boolean> {
  return asAdmin(settings, async (client) => (await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one === 1);
}

function connection(settings: PgSettings, version: string): TargetConnection {
  return {
    adapter: 'postgres',
    mode: 'local',
    address: `postgresql://${settings.host}:${settings.port}/${settings.database}`,
    settings: { ...settings },
    secretSettings: ['password'],
    facts: {
      product: 'PostgreSQL',
      version,
      mode: 'local cluster, own data directory in a temporary directory',
      log: 'jsonlog in the work directory: logins, disconnections and DDL statements (the audit trail)',
      authentication: `scram-sha-256 over TCP from the loopback (members of ${CONTEXT_BOUND_GROUP} from 127.0.0.1 only); client certificates (cert, over TLS) for members of ${CERT_LOGIN_GROUP}, against the target's own root CA and CRL directory`,
    },
  };
}

export const postgresTargets: TargetProvisioning = {
  configSection: externalConfig,
  local: {
    requirements: { apt: ['postgresql-15', 'openssl'], services: { 'postgresql-15': 'postgresql' }, commands: [POSTGRES, INITDB, OPENSSL] },
    async start(options: ProvisionOptions): Promise<StartedTarget> {
      const root = options.workDir;
      const data = join(root, 'data');
      const user = await serverUser();
      ownedDir(root, user);
      ownedDir(join(root, 'socket'), user);
      ownedDir(serverLogDir(root), user);
      const password = randomBytes(18).toString('base64url');
      await initCluster(root, data, password, user);
      const tls = await makeLocalTls(root, user);
      const port = await freePort();
      const admin: PgSettings = { host: '127.0.0.1', port: String(port), database: 'postgres', user: ADMIN_USER, password, sslmode: 'disable' };
      const server = await startLocalServer({
        name: 'postgres',
        ...asServerUser(user, POSTGRES, [...serverArgs(root, data, port), ...tlsServerArgs(tls)]),
        env: clusterEnv(root),
        workDir: root,
        projectRoot: options.projectRoot,
        runId: options.runId,
        ready: () => answers(admin),
        // A fast shutdown: TERM would wait for every session, and a scenario may hold one on purpose.
        stopSignal: 'INT',
      });
      let version: string;
      try {
        version = await asAdmin(admin, async (client) => {
          await client.query(`CREATE DATABASE ${quoteIdent(LOCAL_DATABASE)}`);
          // pg_hba.conf names the group; its members are made per scenario, by certificate-login points.
          await client.query(`CREATE ROLE ${quoteIdent(CERT_LOGIN_GROUP)} NOLOGIN`);
          // Likewise the group bound to 127.0.0.1: a table-read point binding its grant role makes it a member.
          await client.query(`CREATE ROLE ${quoteIdent(CONTEXT_BOUND_GROUP)} NOLOGIN`);
          const answer = await client.query<{ server_version: string }>('SHOW server_version');
          return answer.rows[0]?.server_version.split(' ')[0] ?? 'unknown';
        });
      } catch (error) {
        await server.stop();
        throw new Error(`the local PostgreSQL started but could not be prepared: ${(error as Error).message}`);
      }
      options.log(`postgres: PostgreSQL ${version} on 127.0.0.1:${port} (pid ${server.pid})`);
      const settings: PgSettings = {
        ...admin,
        database: LOCAL_DATABASE,
        caCertFile: tls.caCertFile,
        caKeyFile: tls.caKeyFile,
        crlDir: tls.crlDir,
        certLoginGroup: CERT_LOGIN_GROUP,
        contextBoundGroup: CONTEXT_BOUND_GROUP,
        serverLog: serverLogFile(root),
      };
      return { connection: connection(settings, version), pid: server.pid, stop: stopWithCollector(server.pid, server.stop) };
    },
  },
  external: {
    /** The host names the server, as for libpq; a login or password alone points nowhere. A variable set empty is unset. */
    configured: (options) => Object.keys(options.config).length > 0 || Boolean(process.env.PGHOST),
    howToConfigure: 'set PGHOST, or postgres.host in the config file',
    connect: connectExternal,
  },
};
