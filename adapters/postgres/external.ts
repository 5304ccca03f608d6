/**
 * An external PostgreSQL: the config file's `postgres:` section, falling back to libpq's own
 * variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGSSLMODE), the admin's password only from an
 * environment variable (PGPASSWORD unless the config names another). The login is proved before
 * anything starts — a real login, and the right to CREATE ROLE and CREATE SCHEMA — so a wrong
 * password never turns into a run of inconclusive scenarios; a failure is one line of bad input
 * naming the variable, never its value.
 */
import { X509Certificate } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import pg from 'pg';
import { z } from 'zod';
import { parseSection } from '../config-section.ts';
import type { ProvisionOptions, TargetConnection } from '../contract.ts';
import { envName } from '../param-fields.ts';
import { pemBlocks } from './certificates.ts';
import { clientConfig, type PgSettings, SSL_MODES, type SslMode } from './client.ts';
import { describePgError } from './probes.ts';
import { InputError } from '../../scenarios/input.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';

export const externalConfig = z
  .strictObject({
    /** Default: $PGHOST. A host name or address: jitc speaks TCP, not a socket directory. */
    host: z.string().min(1).optional(),
    /** Default: $PGPORT, then 5432. */
    port: z.number().int().min(1).max(65535).optional(),
    /** Default: $PGDATABASE, then the user's name (as libpq). */
    database: z.string().min(1).optional(),
    /** The admin login; default: $PGUSER. */
    user: z.string().min(1).optional(),
    /** Name of the environment variable holding the admin's password; the password never sits in a file. */
    passwordEnv: envName.default('PGPASSWORD'),
    /** Default: $PGSSLMODE, then libpq's own default, prefer (encrypt when the server offers it). */
    sslmode: z.enum(SSL_MODES).optional(),
    /**
     * Certificate logins (`cert-login`), when the server takes them: the CA that signed the server's
     * own certificate (checked at every certificate login), and the group whose members the
     * server's pg_hba.conf admits by certificate (`hostssl … +<group> … cert`). The server's CRL is
     * its operator's to keep current: jitc only reads what the server then answers.
     */
    certLogin: z.strictObject({ serverCaFile: z.string().min(1), group: z.string().min(1) }).optional(),
    /**
     * The server's own log, as this machine reads it (a copy or a mount of it), for the
     * `audit-trail` check: `jsonlog` format, with log_connections, log_disconnections and
     * log_statement = 'ddl' (or 'all') on. jitc only reads it; it never changes the server's
     * logging. Absent: the check is not evidenced on this target.
     */
    serverLog: z.string().min(1).optional(),
  })
  .default({ passwordEnv: 'PGPASSWORD' });

/** `prefer` is libpq's default: TLS when the server offers it, plain otherwise. It is settled once, here. */
type RequestedSsl = SslMode | 'prefer';

function requestedSsl(configured: SslMode | undefined, fromEnv: string | undefined): RequestedSsl {
  if (configured) return configured;
  if (fromEnv === undefined || fromEnv === '' || fromEnv === 'prefer') return 'prefer';
  if ((SSL_MODES as readonly string[]).includes(fromEnv)) return fromEnv as SslMode;
  throw new InputError(`external postgres target: PGSSLMODE=${fromEnv} is not supported; use disable, prefer, require or verify-full (or postgres.sslmode)`);
}

/** The server's CA as a file of PEM certificates; one clear line when it is not. */
function readServerCa(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(`external postgres target: postgres.certLogin.serverCaFile ${file} is not readable (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const blocks = pemBlocks(text);
  try {
    for (const block of blocks) new X509Certificate(block);
  } catch {
    throw new InputError(`external postgres target: postgres.certLogin.serverCaFile ${file} holds a certificate that cannot be read`);
  }
  if (blocks.length === 0) throw new InputError(`external postgres target: postgres.certLogin.serverCaFile ${file} holds no PEM certificate`);
  return text;
}

interface AdminFacts {
  rolsuper: boolean;
  rolcreaterole: boolean;
  can_create_schema: boolean;
  can_signal: boolean;
  version: string;
  /** Whether the certificate-login group the config names is a role on the server; null when it names none. */
  group_exists: boolean | null;
}

/** What node-postgres says when the server declines TLS: the one answer on which `prefer` goes on without it. */
const NO_TLS = /^The server does not support SSL connections$/;

async function adminLogin(settings: PgSettings, group: string | null): Promise<AdminFacts> {
  const client = new pg.Client(clientConfig(settings, settings.user, settings.password));
  client.on('error', () => undefined);
  try {
    await client.connect();
    const answer = await client.query<AdminFacts>(
      `SELECT r.rolsuper, r.rolcreaterole, has_database_privilege(current_database(), 'CREATE') AS can_create_schema,
              pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') AS can_signal, current_setting('server_version') AS version,
              CASE WHEN $1::text IS NULL THEN NULL ELSE EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = $1::text) END AS group_exists
         FROM pg_roles r WHERE r.rolname = current_user`,
      [group],
    );
    const facts = answer.rows[0];
    if (!facts) throw new Error('pg_roles has no row for the logged-in role');
    return facts;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function connectExternal(options: ProvisionOptions): Promise<TargetConnection> {
  const cfg = parseSection(externalConfig, 'postgres', options);
  const env = process.env;
  const host = cfg.host ?? env.PGHOST;
  if (!host) throw new InputError('external postgres target: set postgres.host in the config file (or PGHOST)');
  if (host.startsWith('/') || host.includes(',')) throw new InputError(`external postgres target: ${host} is not one host name or address (jitc reaches PostgreSQL over TCP)`);
  const port = cfg.port !== undefined ? String(cfg.port) : (env.PGPORT ?? '5432');
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw new InputError(`external postgres target: PGPORT=${port} is not a port number`);
  const user = cfg.user ?? env.PGUSER;
  if (!user) throw new InputError('external postgres target: set postgres.user in the config file (or PGUSER) to an admin login that may CREATE ROLE and CREATE SCHEMA');
  const database = cfg.database ?? env.PGDATABASE ?? user;
  const password = env[cfg.passwordEnv];
  if (!password) throw new InputError(`external postgres target: set ${cfg.passwordEnv} to the password of ${user}`);
  const requested = requestedSsl(cfg.sslmode, env.PGSSLMODE);
  // The password is a secret from the moment it is read: no message may carry it.
  const secrets = new SecretRegistry();
  secrets.add(password);
  const where = `${host}:${port}/${database}`;
  const fail = (text: string): InputError => new InputError(secrets.redact(text));

  let settings: PgSettings = { host, port, database, user, password, sslmode: requested === 'prefer' ? 'require' : requested };
  let facts: AdminFacts;
  try {
    const group = cfg.certLogin?.group ?? null;
    facts = await adminLogin(settings, group).catch(async (error: unknown) => {
      if (requested !== 'prefer' || !(error instanceof Error) || !NO_TLS.test(error.message)) throw error;
      settings = { ...settings, sslmode: 'disable' };
      return adminLogin(settings, group);
    });
  } catch (error) {
    const answer = describePgError(error);
    if (answer.kind === 'server' && (answer.code === '28P01' || answer.code === '28000')) {
      throw fail(`external postgres target ${where}: PostgreSQL refused the login of ${user} with the password in ${cfg.passwordEnv} (${answer.text})`);
    }
    throw fail(`external postgres target ${where} is not usable: login as ${user}: ${answer.text}`);
  }
  if (!facts.rolsuper && !facts.rolcreaterole) throw fail(`external postgres target ${where}: ${user} may not CREATE ROLE (give it CREATEROLE)`);
  if (!facts.rolsuper && !facts.can_create_schema) throw fail(`external postgres target ${where}: ${user} may not CREATE SCHEMA in ${database} (GRANT CREATE ON DATABASE to it)`);
  if (cfg.certLogin) {
    readServerCa(cfg.certLogin.serverCaFile);
    if (!facts.group_exists) {
      throw fail(`external postgres target ${where}: postgres.certLogin.group ${cfg.certLogin.group} is not a role on the server (it must be the group pg_hba.conf admits by certificate)`);
    }
    settings = { ...settings, caCertFile: cfg.certLogin.serverCaFile, certLoginGroup: cfg.certLogin.group };
  }
  if (cfg.serverLog) {
    // Named but unreadable is bad input, said once, not a doubt in every scenario.
    try {
      accessSync(cfg.serverLog, constants.R_OK);
    } catch (error) {
      throw new InputError(`external postgres target: postgres.serverLog ${cfg.serverLog} is not readable (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    settings = { ...settings, serverLog: cfg.serverLog };
  }
  if (!facts.rolsuper && !facts.can_signal) {
    options.log(`postgres: ${user} is neither a superuser nor a member of pg_signal_backend: teardown and cleanup cannot end sessions the scenarios leave open`);
  }
  return {
    adapter: 'postgres',
    mode: 'external',
    address: `postgresql://${host.includes(':') ? `[${host}]` : host}:${port}/${database}`,
    settings: { ...settings },
    secretSettings: ['password'],
    facts: { product: 'PostgreSQL', version: facts.version, mode: 'external', sslmode: settings.sslmode },
  };
}
