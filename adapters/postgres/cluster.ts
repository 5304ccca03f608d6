/**
 * The harness's own PostgreSQL cluster (Debian `postgresql-15`): a data directory made by initdb
 * in the run's work directory, the server listening on 127.0.0.1 and a free port only, its socket
 * and log in that directory too — never /etc/postgresql, /var/lib/postgresql or a system cluster.
 *
 * PostgreSQL refuses to run as root. When jitc runs as root, initdb and the server run as the
 * unprivileged `postgres` user the package created, through setpriv, which execs: the pid the
 * watchdog records is the postmaster's own. Otherwise they run as jitc's own user.
 */
import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';
export const POSTGRES = `${POSTGRES_BIN}/postgres`;
export const INITDB = `${POSTGRES_BIN}/initdb`;
const SETPRIV = '/usr/bin/setpriv';
/** The system user the server drops to when jitc runs as root. */
const SERVER_USER = 'postgres';

/** The cluster's superuser: the admin login of the local target. */
export const ADMIN_USER = 'jitc_admin';

/**
 * The group whose members log in with a client certificate alone (`cert`: over TLS, the
 * certificate's CN is the role's name). A target-wide role like the admin, not a scenario's: no
 * run's sweep removes it.
 */
export const CERT_LOGIN_GROUP = 'jitc_cert_login';

/**
 * The group whose members log in from 127.0.0.1 alone: the context a task's login is bound to.
 * A scenario binds its login by making its grant role a member (pg_hba.conf's `+group` counts
 * indirect members too); from any other address the server rejects it. Target-wide, like
 * {@link CERT_LOGIN_GROUP}.
 */
export const CONTEXT_BOUND_GROUP = 'jitc_context_bound';

/**
 * Certificate logins over TLS for members of {@link CERT_LOGIN_GROUP}, password logins (SCRAM)
 * for everyone else, over TCP from the loopback, and nothing else: no trust line, no peer or socket
 * logins, so every login the harness judges is judged by its certificate or its password. A
 * member of the group is refused any other way in: a certificate holder that sets itself a
 * password (any role may) must not log in with it, where no CRL would ever end it. Members of
 * {@link CONTEXT_BOUND_GROUP} are admitted from 127.0.0.1 and rejected from any other address; the
 * server listens on 127.0.0.1 alone, so the other loopback addresses reach it only as a source
 * (a probe from 127.0.0.2 of a login that should be bound to 127.0.0.1).
 */
export const PG_HBA = `# jitc's own cluster: certificate logins over TLS for ${CERT_LOGIN_GROUP}, SCRAM password logins otherwise, over TCP from the loopback only.
hostssl all +${CERT_LOGIN_GROUP} 127.0.0.1/32 cert
host all +${CERT_LOGIN_GROUP} all reject
host all +${CONTEXT_BOUND_GROUP} 127.0.0.1/32 scram-sha-256
host all +${CONTEXT_BOUND_GROUP} all reject
host all all 127.0.0.0/8 scram-sha-256
`;

const run = promisify(execFile);

export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
}

/** The user the cluster runs as: `postgres` when jitc is root, undefined (jitc's own) otherwise. */
export async function serverUser(): Promise<ServerUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number((await run('id', ['-u', SERVER_USER])).stdout.trim());
    const gid = Number((await run('id', ['-g', SERVER_USER])).stdout.trim());
    if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid === 0) throw new Error(`id answered uid ${uid}, gid ${gid}`);
    return { name: SERVER_USER, uid, gid };
  } catch (error) {
    throw new Error(
      `PostgreSQL refuses to run as root, and there is no unprivileged \`${SERVER_USER}\` user to run it as (the postgresql-15 package creates one): ${(error as Error).message}`,
    );
  }
}

/** The command line that runs `command` as the server user (setpriv execs it), or as it is. */
export function asServerUser(user: ServerUser | undefined, command: string, args: string[]): { command: string; args: string[] } {
  if (!user) return { command, args };
  return { command: SETPRIV, args: [`--reuid=${user.name}`, `--regid=${user.name}`, '--init-groups', '--', command, ...args] };
}

/** A directory of the work directory the server user owns (the work dir itself included). */
export function ownedDir(path: string, user: ServerUser | undefined): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  if (user) chownSync(path, user.uid, user.gid);
}

/** No server or client configuration from the system or from jitc's own environment: only what is passed here. */
export function clusterEnv(root: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: root, LC_ALL: 'C', LANG: 'C' };
}

/**
 * initdb: SCRAM for every login, the admin's password through a file that is removed as soon as
 * initdb has read it, no fsync (a throwaway cluster has nothing to recover after a crash).
 */
export async function initCluster(root: string, data: string, password: string, user: ServerUser | undefined): Promise<void> {
  const pwfile = join(root, 'admin-password');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) chownSync(pwfile, user.uid, user.gid);
  const initdb = asServerUser(user, INITDB, [
    '-D',
    data,
    '-U',
    ADMIN_USER,
    `--pwfile=${pwfile}`,
    '--auth=scram-sha-256',
    '--no-sync',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-instructions',
  ]);
  try {
    await run(initdb.command, initdb.args, { cwd: root, env: clusterEnv(root) });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`initdb could not create the local cluster: ${stderr.trim().split('\n').slice(-2).join(' | ')}`);
  } finally {
    rmSync(pwfile, { force: true });
  }
  // initdb's own pg_hba.conf also admits socket and ::1 logins; only these lines stay. The file
  // keeps its owner (the server user) when it is rewritten.
  writeFileSync(join(data, 'pg_hba.conf'), PG_HBA);
}

/** Where the server writes its own log, in the work directory: `jsonlog` names its file `<log_filename minus .log>.json`. */
export function serverLogDir(root: string): string {
  return join(root, 'log');
}
const LOG_FILENAME = 'server.log';
export function serverLogFile(root: string): string {
  return join(serverLogDir(root), 'server.json');
}

/**
 * The server's command line: the data directory, 127.0.0.1 and the port, the socket in the work
 * dir, and the target's own trail of every grant (the `audit-trail` check, server-log.ts): each
 * login and disconnection, and every DDL statement — a role's removal shows only there — written
 * as `jsonlog` (one JSON object a line: time, pid, user, database and application name as fields,
 * no prefix to parse) by the logging collector into one file that is never rotated. Startup
 * messages from before the collector runs still go to stderr, with a prefix naming the same.
 */
export function serverArgs(root: string, data: string, port: number): string[] {
  const setting = (name: string, value: string): string[] => ['-c', `${name}=${value}`];
  return [
    '-D',
    data,
    '-p',
    String(port),
    ...setting('listen_addresses', '127.0.0.1'),
    ...setting('unix_socket_directories', join(root, 'socket')),
    ...setting('log_connections', 'on'),
    ...setting('log_disconnections', 'on'),
    ...setting('log_statement', 'ddl'),
    ...setting('log_line_prefix', '%m [%p] %q%u@%d %a '),
    ...setting('logging_collector', 'on'),
    ...setting('log_destination', 'jsonlog'),
    ...setting('log_directory', serverLogDir(root)),
    ...setting('log_filename', LOG_FILENAME),
    ...setting('log_rotation_age', '0'),
    ...setting('log_rotation_size', '0'),
    // A throwaway cluster: nothing to recover, so nothing is flushed to disk.
    ...setting('fsync', 'off'),
  ];
}
