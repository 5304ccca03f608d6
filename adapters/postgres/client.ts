/**
 * Reaching a PostgreSQL database with node-postgres. The admin login (the target's own, which
 * creates the fixtures and reads the catalogues) talks through a small pool; every login the
 * harness judges gets a connection of its own, opened for one probe or held as one session and
 * never pooled, so each answer comes from a fresh login.
 *
 * Every option is given explicitly: node-postgres would otherwise fill a missing one from the
 * PG* environment variables of whoever runs jitc, and a probe must log in exactly as it says.
 */
import pg from 'pg';
import { z } from 'zod';
import type { TargetConnection } from '../contract.ts';

/** The sslmode values jitc speaks, with libpq's meaning. */
export const SSL_MODES = ['disable', 'require', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** The connection's settings: plain strings, since they travel to scenario workers through the environment. */
export const settingsSchema = z.object({
  host: z.string().min(1),
  port: z.string().regex(/^\d{1,5}$/, 'a port number'),
  database: z.string().min(1),
  user: z.string().min(1),
  password: z.string(),
  sslmode: z.enum(SSL_MODES),
  /**
   * Certificate logins, where the harness configured the server's TLS itself (the local target):
   * the root CA the server trusts for client certificates (and whose certificate it serves under),
   * that CA's key, the directory the server reads CRLs from, and the group whose members log in
   * by certificate. Absent: the target takes no certificate logins jitc can judge.
   */
  caCertFile: z.string().min(1).optional(),
  caKeyFile: z.string().min(1).optional(),
  crlDir: z.string().min(1).optional(),
  certLoginGroup: z.string().min(1).optional(),
  /** The group whose members pg_hba.conf admits from one context alone (the local target's 127.0.0.1); absent: none jitc knows of. */
  contextBoundGroup: z.string().min(1).optional(),
  /**
   * The server's own log as this machine reads it, in PostgreSQL's `jsonlog` format, with logins,
   * disconnections and DDL statements logged (server-log.ts): the `audit-trail` check reads it.
   * Absent: the target has no trail jitc can read, and the check is not evidenced there.
   */
  serverLog: z.string().min(1).optional(),
});
export type PgSettings = z.infer<typeof settingsSchema>;

/** How long a login or a statement may take before its answer counts as none (`unknown`). */
export const CONNECT_TIMEOUT_MS = 5000;
export const QUERY_TIMEOUT_MS = 5000;

/** What the admin's connections call themselves: unlike the scenarios' `jitc-<runId>-…`, no sweep matches it. */
const ADMIN_APPLICATION = 'jitc admin';

/**
 * libpq's sslmode in node-postgres' terms. `require` encrypts without checking the certificate, as
 * libpq does; `verify-full` checks it against Node's CAs (NODE_EXTRA_CA_CERTS adds a private one)
 * and the host name.
 */
export function sslOption(mode: SslMode): pg.ClientConfig['ssl'] {
  switch (mode) {
    case 'disable':
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-full':
      return { rejectUnauthorized: true };
  }
}

export interface Endpoint {
  host: string;
  port: number;
}

/** A node of the scenario's `reuse.nodes`: `host:port`, or `[v6 address]:port`. */
export function parseNode(node: string): Endpoint {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(node);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`node ${node} is not host:port`);
  return { host, port };
}

export interface LoginOptions {
  /** Another address of the same database (a replica), instead of the target's own. */
  node?: string;
  /** Shown in pg_stat_activity: the scenario's name, so a sweep can find a session whose role is gone. */
  applicationName?: string;
}

/** A client configuration for one login, with every option stated. */
export function clientConfig(settings: PgSettings, user: string, password: string, options: LoginOptions = {}): pg.ClientConfig {
  const endpoint = options.node ? parseNode(options.node) : { host: settings.host, port: Number(settings.port) };
  return {
    ...endpoint,
    database: settings.database,
    user,
    password,
    ssl: sslOption(settings.sslmode),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    application_name: options.applicationName ?? ADMIN_APPLICATION,
    keepAlive: true,
  };
}

/** A client certificate and its key, PEM, and the CA the server's own certificate must chain to. */
export interface ClientCertificate {
  certificate: string;
  privateKey: string;
  serverCa: string;
}

/**
 * A client configuration for one certificate login: TLS with the certificate (and the chain it
 * carries), the server's certificate checked against the target's CA, and no password — the
 * server must let the certificate alone decide.
 */
export function certificateConfig(settings: PgSettings, user: string, tls: ClientCertificate, options: LoginOptions = {}): pg.ClientConfig {
  return {
    ...clientConfig(settings, user, '', options),
    ssl: { cert: tls.certificate, key: tls.privateKey, ca: tls.serverCa, rejectUnauthorized: true },
  };
}

export interface PgClient {
  settings: PgSettings;
  /** The admin login's pool: fixtures, catalogues, pg_stat_activity, terminating backends. */
  admin: pg.Pool;
  /** A new, unconnected client logging in as `user`; the caller connects it and ends it. */
  login(user: string, password: string, options?: LoginOptions): pg.Client;
  /** A new, unconnected client logging in as `user` by client certificate, over TLS whatever the target's sslmode. */
  certificateLogin(user: string, tls: ClientCertificate, options?: LoginOptions): pg.Client;
}

export function parseSettings(connection: TargetConnection): PgSettings {
  const parsed = settingsSchema.safeParse(connection.settings);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`postgres connection settings: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
}

export function connectPostgres(connection: TargetConnection): PgClient {
  const settings = parseSettings(connection);
  // Every scenario of a run shares this pool (setup's transaction, residue reads, teardown's
  // terminations), and a wait for a free connection counts against the connect timeout: too few,
  // and scenarios run together fail their setup waiting on each other.
  const admin = new pg.Pool({ ...clientConfig(settings, settings.user, settings.password), max: 10, idleTimeoutMillis: 10_000, allowExitOnIdle: true });
  // An idle admin connection the server ends (a shutdown, a terminate) must not bring the run
  // down as an unhandled 'error' event; the pool drops it and the next query opens another.
  admin.on('error', () => undefined);
  return {
    settings,
    admin,
    login: (user, password, options) => new pg.Client(clientConfig(settings, user, password, options)),
    certificateLogin: (user, tls, options) => new pg.Client(certificateConfig(settings, user, tls, options)),
  };
}

/** `"name"`, doubled quotes inside: the only way a harness-made name reaches SQL text. */
export function quoteIdent(name: string): string {
  return pg.escapeIdentifier(name);
}

/** `"schema"."table"`. */
export function qualifiedName(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}
