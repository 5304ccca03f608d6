/**
 * `table-read`: the database's point of use. The privileged action is reading one table, which
 * only members of its grant role (a NOLOGIN role holding USAGE on the schema and SELECT on the
 * table) may do. A grant — from OpenBao's database engine, or any broker — hands over a login that
 * is a member of that role; here the login is tried on a new connection every time, and the
 * connection the task opens is held across the end, because PostgreSQL never ends a session when
 * its role loses the membership or is dropped (sessions.ts).
 *
 * About a login it did not see issued, the point reads what the database states: the role's VALID
 * UNTIL, which bounds password logins only — sessions already open outlive it. Its holder may try
 * to outlast the grant with the login itself (extension.ts): move its own VALID UNTIL, make the
 * requester a member of the grant role, create a login of its own; a login it created is removed
 * again at teardown. With `contextBound`, the login is bound to the address the task runs from,
 * and a scenario naming that context has it tried from elsewhere (`drifted`, scenarios/drift.ts).
 *
 * Where the target's own log is readable, the grant's login, the end of the session it held and the
 * login's removal are looked for there as separate records (`audit-trail`, audit-trail.ts).
 */
import { z } from 'zod';
import { credentialOf, type Credential, type CredentialOf, type CredentialType, type PointOfUse, type ProbeResult } from '../../contract.ts';
import { probeThroughRelay } from '../../loopback-relay.ts';
import { type PgClient, quoteIdent } from '../client.ts';
import { tableEntitlements } from '../entitlements.ts';
import { loginExtensions, removeHolderLogins } from '../extension.ts';
import { judgeServerLog, markResidueRead, openServerLog, rememberGrantSession } from '../audit-trail.ts';
import { applicationName, createFixtures, fixturesOf, type PgContext, removeFixtures, trackedSessions } from '../fixtures.ts';
import { loginAndRead, pgErrorText, readContextFailure } from '../probes.ts';
import { closeSession, holdSession, openSession, readOnSession } from '../sessions.ts';
import { DATABASE_TERM, GRANT_ROLE_TERM, TABLE_TERM } from '../terms.ts';

const params = z.strictObject({
  /**
   * Bind the task's login to the context it runs in: its grant role joins the target's
   * context-bound group, which pg_hba.conf admits from one address alone (the local target:
   * 127.0.0.1), so a login that is a member of the grant role is rejected from anywhere else.
   */
  contextBound: z.boolean().default(false),
  /**
   * Broken setup: the login's own sessions log only FATAL and worse (ALTER ROLE … SET
   * log_min_messages = fatal before its first session), as a role whose logging was turned down
   * would. Its logins still show (they are logged before the role's settings apply), its
   * disconnections do not. Needs an admin that is a superuser: the local target's.
   */
  quietSessions: z.boolean().default(false),
});
type Params = z.infer<typeof params>;
type Ctx = PgContext<Params>;

const ACCEPTS: readonly CredentialType[] = ['db-login'];

/** A credential this point cannot use proves nothing about the table: unknown, never denied. */
function unusable(credential: Credential): ProbeResult {
  return { outcome: 'unknown', at: new Date().toISOString(), detail: `postgres/table-read cannot use a ${credential.type} credential (it accepts ${ACCEPTS.join(', ')})` };
}

/** Log in as `user` on a new connection (to `node` when given), read the table, close. */
function newConnectionRead(ctx: Ctx, user: string, password: string, node?: string): Promise<ProbeResult> {
  const options = { applicationName: applicationName(ctx), ...(node ? { node } : {}) };
  return loginAndRead(ctx.client.login(user, password, options), user, fixturesOf(ctx).table);
}

/** Log in as `login` on a new connection that leaves from `from`, read the table, close. */
function readFrom(ctx: Ctx, login: CredentialOf<'db-login'>, from: string): Promise<ProbeResult> {
  const { host, port } = ctx.client.settings;
  return probeThroughRelay({ host, port: Number(port) }, from, (relay) => {
    const client = ctx.client.login(login.user, login.password, { applicationName: applicationName(ctx), node: `${relay.host}:${relay.port}` });
    return loginAndRead(client, login.user, fixturesOf(ctx).table, readContextFailure, ` from ${from}`);
  });
}

/** Make the grant role a member of the target's context-bound group; dropping the role at teardown ends it. */
async function bindToContext(ctx: Ctx, grantRole: string): Promise<void> {
  const group = ctx.client.settings.contextBoundGroup;
  if (!group) throw new Error('postgres/table-read contextBound needs a target whose pg_hba.conf binds a group to one context: the local target');
  await ctx.client.admin.query(`GRANT ${quoteIdent(group)} TO ${quoteIdent(grantRole)}`);
  ctx.evidence.record('grant role bound to its context: a member of the group pg_hba.conf admits from 127.0.0.1 alone', { grantRole, group });
}

/** The broken setup `quietSessions`: the login's sessions log only FATAL and worse, so their ends leave no record. */
async function quietSessions(ctx: Ctx, login: string): Promise<void> {
  await ctx.client.admin.query(`ALTER ROLE ${quoteIdent(login)} SET log_min_messages = fatal`);
  ctx.evidence.record("broken setup: the login's sessions log only FATAL and worse (log_min_messages = fatal): their disconnections leave no record", { user: login });
}

interface RoleFacts {
  rolvaliduntil: Date | number | null;
  rolcanlogin: boolean;
  rolconnlimit: number;
  member: boolean;
  now: Date;
}

export const tableReadPoint: PointOfUse<Params, PgClient> = {
  title: 'Read a table a grant role may read, with a database login',
  params,
  accepts: ACCEPTS,
  offers: [GRANT_ROLE_TERM, TABLE_TERM, DATABASE_TERM],

  // Every use holds its session across the end; the target's own log, where it is readable.
  checks: () => ['session-ended-with-task', 'audit-trail'],

  remediation: {
    'audit-trail':
      "Log every login, every session's end and every role's removal where the reviewer reads them: log_connections = on, log_disconnections = on, log_statement = 'ddl', log_destination = 'jsonlog' (postgres.serverLog names the file), no role or database setting that raises log_min_messages above LOG, and drop a grant's login at its end",
    'context-bound':
      "Admit the task's logins from the workload's own addresses alone: a pg_hba.conf line for their group naming those addresses, then a `host all +<group> all reject` line before any wider one",
    'zero-standing-privilege':
      'Take the requester out of the grant role (REVOKE "<grant role>" FROM "<requester>", and out of every role that is a member of it), and revoke any SELECT on the table or USAGE on its schema granted to the requester or PUBLIC: only a grant may make a login a member of the grant role',
    'no-residue':
      "Drop every login the grant created when the task ends (DROP ROLE), revoke the grant role from any login that kept it, and end the sessions opened with it (pg_terminate_backend): a session left running is still connected to the table's database",
    'holder-cannot-extend':
      'Give the logins a grant creates no CREATEROLE and no ADMIN OPTION on the grant role (CREATE ROLE "<login>" LOGIN … VALID UNTIL …; GRANT "<grant role>" TO "<login>", without WITH ADMIN OPTION): with either, the login can move its own VALID UNTIL, make another login a member of the grant role, or create a login of its own that no revocation of the grant drops',
    'session-ended-with-task':
      "End a login's sessions when its grant ends: PostgreSQL never ends a session whose role lost its membership, passed its VALID UNTIL or was dropped. Revoke with ALTER ROLE \"<login>\" NOLOGIN; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '<login>'; DROP ROLE \"<login>\" (for OpenBao's database engine: the role's revocation_statements)",
  },

  async setup(ctx) {
    // Before anything is created: the log is read from here on.
    await openServerLog(ctx);
    const fixtures = await createFixtures(ctx);
    if (ctx.params.contextBound) await bindToContext(ctx, fixtures.grantRole);
    const database = ctx.client.settings.database;
    return {
      description: `read table ${fixtures.table} in database ${database}`,
      terms: { [GRANT_ROLE_TERM]: fixtures.grantRole, [TABLE_TERM]: fixtures.table, [DATABASE_TERM]: database },
      requester: fixtures.requester,
    };
  },

  async entitlements(ctx) {
    const found = await tableEntitlements(ctx.client, fixturesOf(ctx), trackedSessions(ctx));
    await markResidueRead(ctx);
    return found;
  },

  async probeStanding(ctx) {
    const { requester } = fixturesOf(ctx);
    return newConnectionRead(ctx, requester.user, requester.password);
  },

  async probe(ctx, credential, node) {
    const login = credentialOf(credential, 'db-login');
    return login ? newConnectionRead(ctx, login.user, login.password, node) : unusable(credential);
  },

  async use(ctx, credential) {
    const login = credentialOf(credential, 'db-login');
    if (!login) return unusable(credential);
    if (ctx.params.quietSessions) await quietSessions(ctx, login.user);
    const opened = await openSession(ctx, login);
    if ('refused' in opened) return opened.refused;
    const { session } = opened;
    rememberGrantSession(ctx, session.user, session.pid);
    const table = fixturesOf(ctx).table;
    const used = await readOnSession(session, table);
    if (used.outcome !== 'allowed') {
      await closeSession(session).catch(() => undefined);
      return used;
    }
    return { ...used, sessions: [holdSession(ctx, session, table)] };
  },

  async inspect(ctx, credential) {
    const login = credentialOf(credential, 'db-login');
    if (!login) return undefined;
    const { grantRole } = fixturesOf(ctx);
    let found: RoleFacts | undefined;
    try {
      found = (
        await ctx.client.admin.query<RoleFacts>(
          `SELECT rolvaliduntil, rolcanlogin, rolconnlimit, pg_has_role(oid, $2, 'MEMBER') AS member, now() AS now FROM pg_roles WHERE rolname = $1`,
          [login.user, grantRole],
        )
      ).rows[0];
    } catch (error) {
      throw new Error(`reading pg_roles for ${login.user}: ${pgErrorText(error)}`);
    }
    if (!found) {
      ctx.evidence.record(`the database holds no role ${login.user}: it states nothing about the login`, { user: login.user });
      return undefined;
    }
    // node-postgres reads 'infinity' as Infinity: no end, as much as NULL is.
    const until = found.rolvaliduntil instanceof Date ? found.rolvaliduntil : null;
    const ttlSeconds = until === null ? null : Math.round((until.getTime() - found.now.getTime()) / 1000);
    return {
      expiresAt: until === null ? null : until.toISOString(),
      ttlSeconds,
      attributes: { user: login.user, canLogin: found.rolcanlogin, connectionLimit: found.rolconnlimit, memberOfGrantRole: found.member },
      detail:
        until === null
          ? `role ${login.user} has no VALID UNTIL: the database states no end for its password`
          : `role ${login.user} is VALID UNTIL ${until.toISOString()} (${ttlSeconds} s after the database's clock now), which bounds password logins only: sessions already open outlive it`,
    };
  },

  // A new login from another source address, through a loopback relay: node-postgres cannot
  // choose its own. Refused only by pg_hba.conf's own answer (probes.ts).
  drifted(ctx, credential, from) {
    const login = credentialOf(credential, 'db-login');
    return login ? [{ name: 'log in and read the table', context: from, attempt: () => readFrom(ctx, login, from) }] : [];
  },

  extensions(ctx, credential, grant) {
    const login = credentialOf(credential, 'db-login');
    return login ? loginExtensions(ctx, login, grant, (l, node) => newConnectionRead(ctx, l.user, l.password, node)) : [];
  },

  // Runs after the grant source's teardown. The fixtures first: removing them ends this scenario's
  // sessions, those of a login the holder created included.
  async teardown(ctx) {
    const removed: string[] = [];
    const failed: string[] = [];
    for (const remove of [removeFixtures, removeHolderLogins]) {
      try {
        removed.push(...(await remove(ctx)));
      } catch (error) {
        failed.push(error instanceof Error ? error.message : String(error));
      }
    }
    // Once the sessions were ended: each one's end is in the log by now, or never will be.
    try {
      await judgeServerLog(ctx);
    } catch (error) {
      ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `the server log could not be judged: ${error instanceof Error ? error.message : String(error)}` });
    }
    if (failed.length > 0) throw new Error(failed.join('; '));
    return removed;
  },
};
