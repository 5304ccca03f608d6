/**
 * Removing what the harness created, found in the database by name: backends of roles (or of
 * connections whose application_name) carrying the prefix are ended first — a session outlives
 * its role, so one whose role is already dropped is known only by its application_name — then
 * schemas (with their tables) and roles whose names start with `jitc-<runId>-`, or those of any
 * jitc run without a run id. Logins a grant source created there (OpenBao names them with the
 * scenario's prefix) go the same way. Used by `jitc cleanup`; a scenario's teardown removes its own
 * objects by name (fixtures.ts).
 */
import type { CleanupReport } from '../contract.ts';
import { type PgClient, quoteIdent } from './client.ts';
import { dropRole } from './fixtures.ts';
import { runMatcher, sessionLabel } from './names.ts';
import { pgErrorText } from './probes.ts';

interface Backend {
  pid: number;
  usename: string | null;
  application_name: string | null;
}

export async function cleanupPostgres(client: PgClient, runId: string | undefined): Promise<CleanupReport> {
  const report: CleanupReport = { removed: [], failed: [] };
  const matches = runMatcher(runId);
  const attempt = async (what: string, action: () => Promise<void>): Promise<void> => {
    try {
      await action();
      report.removed.push(what);
    } catch (error) {
      report.failed.push(`${what}: ${pgErrorText(error)}`);
    }
  };

  // Narrowed by SQL to jitc's own spelling, matched exactly here.
  const backends = await client.admin.query<Backend>(
    `SELECT pid, usename, application_name FROM pg_stat_activity
      WHERE pid <> pg_backend_pid() AND (starts_with(usename, 'jitc-') OR starts_with(application_name, 'jitc-'))`,
  );
  for (const row of backends.rows.filter((b) => matches(b.usename) || matches(b.application_name))) {
    await attempt(sessionLabel(row), async () => {
      const ended = await client.admin.query<{ ended: boolean }>('SELECT pg_terminate_backend($1, 5000) AS ended', [row.pid]);
      if (ended.rows[0]?.ended) return;
      // false: gone meanwhile (fine), or still there after 5 s.
      const still = await client.admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [row.pid]);
      if (still.rowCount) throw new Error('the backend did not exit within 5 s of being terminated');
    });
  }

  const schemas = await client.admin.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, 'jitc-') ORDER BY nspname");
  for (const { nspname } of schemas.rows.filter((s) => matches(s.nspname))) {
    await attempt(`schema ${nspname}`, async () => {
      await client.admin.query(`DROP SCHEMA ${quoteIdent(nspname)} CASCADE`);
    });
  }

  const roles = await client.admin.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE starts_with(rolname, 'jitc-') ORDER BY rolname");
  for (const { rolname } of roles.rows.filter((r) => matches(r.rolname))) {
    await attempt(`role ${rolname}`, () => dropRole(client, rolname));
  }
  return report;
}
