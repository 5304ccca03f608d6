/**
 * Whether the cluster holds a role named by its name, as pg_roles lists it: one query by the admin
 * login. A row is `present`; the catalogue answering with no row is the cluster's own word that no
 * such role exists, so `gone`. A query that fails or does not answer is `unknown`.
 *
 * A role name may hold almost any character, so a ref meant for another target (an ARN, a DN, an
 * API path) would be looked up and found absent: read as gone, it would pass what may well be
 * left elsewhere. Refs in those forms are `unknown` instead.
 */
import type { LookUpResult } from '../contract.ts';
import type { PgClient } from './client.ts';
import { pgErrorText } from './probes.ts';

/** A role name PostgreSQL accepts (NAMEDATALEN - 1 bytes), without the NUL it refuses. */
const ROLE_NAME = /^[^\0]{1,63}$/;

export async function lookUpPostgres(client: PgClient, ref: string): Promise<LookUpResult> {
  if (!ROLE_NAME.test(ref) || Buffer.byteLength(ref) > 63) return { state: 'unknown', detail: `${ref} is not a PostgreSQL role name` };
  if (/^arn:|\/|=.*,/.test(ref)) return { state: 'unknown', detail: `${ref} reads as another target's reference (an ARN, a path or a DN), not a role name` };
  try {
    const found = await client.admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [ref]);
    return found.rowCount === 0 ? { state: 'gone', detail: `pg_roles: no role ${ref}` } : { state: 'present', detail: `pg_roles: role ${ref}` };
  } catch (error) {
    return { state: 'unknown', detail: `pg_roles read for ${ref} failed: ${pgErrorText(error)}` };
  }
}
