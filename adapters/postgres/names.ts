/**
 * Names of what the harness creates in a database, and how a sweep recognises them. PostgreSQL
 * cuts every identifier (role, schema, application_name) at 63 bytes without an error, only a
 * notice: two long names could silently become one, or lose the part a sweep looks for. So a
 * name that would be cut is shortened here instead, keeping the run prefix (`jitc-<runId>-`) it
 * starts with and a hash of what was dropped.
 */
import { createHash } from 'node:crypto';
import { runPrefix } from '../contract.ts';

/** NAMEDATALEN - 1: the longest identifier PostgreSQL keeps whole. */
export const MAX_IDENTIFIER_BYTES = 63;

/**
 * `<prefix>-<role>` (or the prefix itself), at most 63 bytes. A longer one keeps its start and
 * its role, and replaces the cut middle by 8 hex digits of its hash, so it stays unique.
 */
export function scenarioName(prefix: string, role?: string): string {
  const full = role ? `${prefix}-${role}` : prefix;
  if (Buffer.byteLength(full) <= MAX_IDENTIFIER_BYTES) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  const tail = `-${hash}${role ? `-${role}` : ''}`;
  // Prefixes are ASCII (run ids and scenario ids are), so characters are bytes here.
  return `${prefix.slice(0, MAX_IDENTIFIER_BYTES - tail.length)}${tail}`;
}

/** Is `name` something of this run (or, without a run id, of any jitc run: `jitc-<runId>-<scenario>…`)? */
export function runMatcher(runId: string | undefined): (name: string | null) => boolean {
  const prefix = runPrefix(runId);
  return runId ? (name) => name !== null && name.startsWith(prefix) : (name) => name !== null && /^jitc-[^-]+-./.test(name);
}

/** A backend as cleanup and leftovers both word it: its pid, and the role or application it is known by. */
export function sessionLabel(row: { pid: number; usename: string | null; application_name: string | null }): string {
  const role = row.usename === null ? 'a dropped role' : `role ${row.usename}`;
  const application = row.application_name ? `, application ${row.application_name}` : '';
  return `session pid ${row.pid} (${role}${application})`;
}
