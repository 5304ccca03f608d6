/**
 * What a run left in a database, read from the database itself: roles and schemas whose names
 * carry `jitc-<runId>-` anywhere, and backends whose role or application_name does. Deliberately
 * wider than the cleanup sweep's own matching (which wants the prefix at the start), and worded as
 * the sweep words its removals, so a sweep that misses something shows.
 */
import { runPrefix } from '../contract.ts';
import type { PgClient } from './client.ts';
import { sessionLabel } from './names.ts';

export async function postgresLeftovers(client: PgClient, runId: string): Promise<string[]> {
  const prefix = runPrefix(runId);
  const found: string[] = [];
  const roles = await client.admin.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE strpos(rolname, $1) > 0', [prefix]);
  found.push(...roles.rows.map((r) => `role ${r.rolname}`));
  const schemas = await client.admin.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE strpos(nspname, $1) > 0', [prefix]);
  found.push(...schemas.rows.map((s) => `schema ${s.nspname}`));
  const backends = await client.admin.query<{ pid: number; usename: string | null; application_name: string | null }>(
    `SELECT pid, usename, application_name FROM pg_stat_activity
      WHERE pid <> pg_backend_pid() AND (strpos(usename, $1) > 0 OR strpos(application_name, $1) > 0)`,
    [prefix],
  );
  found.push(...backends.rows.map(sessionLabel));
  return found.sort();
}
