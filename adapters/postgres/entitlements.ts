/**
 * What reaches the table, read from the database itself (for residue), asking only about the
 * scenario's own objects and sessions — never listing every role or backend:
 * - every role that is a member of the grant role, directly or through other roles (a login left
 *   a member is a grant that did not end);
 * - privileges on the table or its schema held by anyone but their owner and the grant role (a
 *   grant made around the role);
 * - backends of sessions the point of use opened during use that are still connected (a session
 *   left running is residue, whatever its role may still do).
 */
import type { PgClient } from './client.ts';
import type { Fixtures } from './fixtures.ts';

interface Member {
  rolname: string;
  rolcanlogin: boolean;
  via: string[];
}

async function members(client: PgClient, grantRole: string): Promise<string[]> {
  // Memberships cannot form a cycle in PostgreSQL, so the walk ends; its depth is the nesting's.
  const found = await client.admin.query<Member>(
    `WITH RECURSIVE reach(member, via) AS (
       SELECT am.member, ARRAY[]::name[] FROM pg_auth_members am JOIN pg_roles g ON g.oid = am.roleid WHERE g.rolname = $1
       UNION ALL
       SELECT am.member, r.via || m.rolname FROM reach r JOIN pg_roles m ON m.oid = r.member JOIN pg_auth_members am ON am.roleid = r.member
     )
     SELECT m.rolname, m.rolcanlogin, r.via::text[] AS via FROM reach r JOIN pg_roles m ON m.oid = r.member`,
    [grantRole],
  );
  return found.rows.map((row) => {
    const through = row.via.length > 0 ? ` through ${[...row.via].reverse().join(' <- ')}` : '';
    return `${row.rolcanlogin ? 'login' : 'role'} ${row.rolname} is a member of ${grantRole}${through}`;
  });
}

interface Grant {
  object: string;
  privilege: string;
  grantee: string;
}

async function otherGrants(client: PgClient, fixtures: Fixtures): Promise<string[]> {
  const found = await client.admin.query<Grant>(
    `SELECT 'table ' || $1::text AS object, a.privilege_type AS privilege, coalesce(r.rolname, 'PUBLIC') AS grantee
       FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
      WHERE c.oid = to_regclass($1::text) AND a.grantee <> c.relowner AND coalesce(r.rolname, '') <> $3
     UNION ALL
     SELECT 'schema ' || n.nspname, a.privilege_type, coalesce(r.rolname, 'PUBLIC')
       FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
      WHERE n.nspname = $2 AND a.grantee <> n.nspowner AND coalesce(r.rolname, '') <> $3`,
    [fixtures.table, fixtures.schema, fixtures.grantRole],
  );
  return found.rows.map((row) => `${row.privilege} on ${row.object} granted to ${row.grantee}`);
}

interface Backend {
  pid: number;
  usename: string | null;
}

async function liveSessions(client: PgClient, pids: number[]): Promise<string[]> {
  if (pids.length === 0) return [];
  const found = await client.admin.query<Backend>('SELECT pid, usename FROM pg_stat_activity WHERE pid = ANY($1::int[])', [pids]);
  return found.rows.map((row) => `session pid ${row.pid} opened during use is still connected (${row.usename === null ? 'its role was dropped' : `as ${row.usename}`})`);
}

export async function tableEntitlements(client: PgClient, fixtures: Fixtures, sessionPids: number[]): Promise<string[]> {
  return [...(await members(client, fixtures.grantRole)), ...(await otherGrants(client, fixtures)), ...(await liveSessions(client, sessionPids))].sort();
}
