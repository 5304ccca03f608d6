/**
 * What the `table-read` point of use creates for a task, all named with the scenario's prefix: a
 * schema holding one table with one row, the NOLOGIN grant role that may read it (USAGE on the
 * schema, SELECT on the table), and the requester, a LOGIN role that is a member of nothing.
 * Created in one transaction, so a setup that fails half-way leaves nothing behind; removed by
 * name, sessions first, so a backend still running as a dropped role is not left to the server.
 */
import { randomBytes } from 'node:crypto';
import { bornCredential, type CredentialOf, type ScenarioContext } from '../contract.ts';
import { type PgClient, qualifiedName, quoteIdent } from './client.ts';
import { scenarioName, sessionLabel } from './names.ts';
import { newPassword, scramVerifier } from './passwords.ts';
import { describePgError, pgErrorText } from './probes.ts';

export type PgContext<P = unknown> = ScenarioContext<P, PgClient>;

/** The table's own name inside the scenario's schema. */
export const TABLE_NAME = 'task_data';

export interface Fixtures {
  schema: string;
  /** `"schema"."task_data"`, as every statement and the `postgres.table` term spell it. */
  table: string;
  grantRole: string;
  requester: CredentialOf<'db-login'>;
  /** application_name of every connection the point opens for this scenario: how a sweep finds a session whose role is gone. */
  application: string;
}

const FIXTURES = 'fixtures';
const SESSIONS = 'sessionPids';

export function fixturesOf(ctx: PgContext): Fixtures {
  const fixtures = ctx.state.get(FIXTURES) as Fixtures | undefined;
  if (!fixtures) throw new Error('no fixtures: setup did not run');
  return fixtures;
}

/** The application_name of the scenario's connections, whole (PostgreSQL would cut it at 63 bytes). */
export function applicationName(ctx: PgContext): string {
  return scenarioName(ctx.prefix);
}

/** Remember the backend of a session opened during use: entitlements and teardown ask about it by pid. */
export function trackSession(ctx: PgContext, pid: number): void {
  ctx.state.set(SESSIONS, [...trackedSessions(ctx), pid]);
}

export function trackedSessions(ctx: PgContext): number[] {
  return (ctx.state.get(SESSIONS) as number[] | undefined) ?? [];
}

export async function createFixtures(ctx: PgContext): Promise<Fixtures> {
  const schema = scenarioName(ctx.prefix);
  const requesterPassword = newPassword();
  const fixtures: Fixtures = {
    schema,
    table: qualifiedName(schema, TABLE_NAME),
    grantRole: scenarioName(ctx.prefix, 'reader'),
    requester: bornCredential(ctx.secrets, { type: 'db-login', user: scenarioName(ctx.prefix, 'requester'), password: requesterPassword }),
    application: applicationName(ctx),
  };
  // Known before anything exists, so teardown finds whatever a failed setup may have left.
  ctx.state.set(FIXTURES, fixtures);
  // The protected value is random per scenario and never leaves the database except through a granted read.
  const value = randomBytes(12).toString('hex');
  ctx.secrets.add(value);
  const s = quoteIdent(fixtures.schema);
  const reader = quoteIdent(fixtures.grantRole);
  const admin = await ctx.client.admin.connect();
  try {
    await admin.query('BEGIN');
    await admin.query(`CREATE SCHEMA ${s}`);
    await admin.query(`CREATE TABLE ${fixtures.table} (id integer PRIMARY KEY, value text NOT NULL)`);
    await admin.query(`INSERT INTO ${fixtures.table} VALUES (1, $1)`, [value]);
    await admin.query(`CREATE ROLE ${reader} NOLOGIN`);
    await admin.query(`GRANT USAGE ON SCHEMA ${s} TO ${reader}`);
    await admin.query(`GRANT SELECT ON ${fixtures.table} TO ${reader}`);
    // The verifier, not the password: the statement's text may end up in the server's log.
    await admin.query(`CREATE ROLE ${quoteIdent(fixtures.requester.user)} LOGIN PASSWORD '${scramVerifier(requesterPassword)}'`);
    await admin.query('COMMIT');
  } catch (error) {
    await admin.query('ROLLBACK').catch(() => undefined);
    throw new Error(`creating the table, the grant role and the requester in ${ctx.client.settings.database}: ${pgErrorText(error)}`);
  } finally {
    admin.release();
  }
  ctx.evidence.record('table and grant role created: the grant role holds USAGE on the schema and SELECT on the table', {
    database: ctx.client.settings.database,
    table: fixtures.table,
    grantRole: fixtures.grantRole,
  });
  ctx.evidence.record('requester login role created, member of nothing', { user: fixtures.requester.user });
  return fixtures;
}

interface Backend {
  pid: number;
  usename: string | null;
  application_name: string | null;
}

/** End the backends of this scenario's sessions (held, or the requester's), waiting up to 5 s for each to exit. */
async function endSessions(ctx: PgContext, fixtures: Fixtures, removed: string[], failed: string[]): Promise<void> {
  let rows: Backend[];
  try {
    rows = (
      await ctx.client.admin.query<Backend>(
        `SELECT pid, usename, application_name FROM pg_stat_activity
          WHERE pid <> pg_backend_pid() AND (pid = ANY($1::int[]) OR usename = $2 OR application_name = $3)`,
        [trackedSessions(ctx), fixtures.requester.user, fixtures.application],
      )
    ).rows;
  } catch (error) {
    failed.push(`read pg_stat_activity: ${pgErrorText(error)}`);
    return;
  }
  for (const row of rows) {
    try {
      const ended = await ctx.client.admin.query<{ ended: boolean }>('SELECT pg_terminate_backend($1, 5000) AS ended', [row.pid]);
      if (ended.rows[0]?.ended) removed.push(sessionLabel(row));
    } catch (error) {
      failed.push(`${sessionLabel(row)}: ${pgErrorText(error)}`);
    }
  }
}

/**
 * Drop a role the harness made. A role that still holds privileges (granted on something else
 * meanwhile) cannot be dropped: DROP OWNED BY revokes them in this database first.
 */
export async function dropRole(client: PgClient, role: string): Promise<void> {
  try {
    await client.admin.query(`DROP ROLE ${quoteIdent(role)}`);
  } catch (error) {
    const answer = describePgError(error);
    if (answer.kind !== 'server' || answer.code !== '2BP01') throw error;
    await client.admin.query(`DROP OWNED BY ${quoteIdent(role)}`);
    await client.admin.query(`DROP ROLE ${quoteIdent(role)}`);
  }
}

/** Remove what setup made, sessions first. Returns what was removed; throws once, naming every failure, after trying everything. */
export async function removeFixtures(ctx: PgContext): Promise<string[]> {
  const fixtures = ctx.state.get(FIXTURES) as Fixtures | undefined;
  if (!fixtures) return [];
  const removed: string[] = [];
  const failed: string[] = [];
  await endSessions(ctx, fixtures, removed, failed);
  try {
    const found = await ctx.client.admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [fixtures.schema]);
    if (found.rowCount) {
      await ctx.client.admin.query(`DROP SCHEMA ${quoteIdent(fixtures.schema)} CASCADE`);
      removed.push(`schema ${fixtures.schema} (table ${fixtures.table})`);
    }
  } catch (error) {
    failed.push(`schema ${fixtures.schema}: ${pgErrorText(error)}`);
  }
  for (const role of [fixtures.requester.user, fixtures.grantRole]) {
    try {
      const found = await ctx.client.admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      if (!found.rowCount) continue;
      await dropRole(ctx.client, role);
      removed.push(`role ${role}`);
    } catch (error) {
      failed.push(`role ${role}: ${pgErrorText(error)}`);
    }
  }
  if (failed.length > 0) throw new Error(`removed ${removed.length > 0 ? removed.join(', ') : 'nothing'}; could not remove ${failed.join('; ')}`);
  return removed;
}
