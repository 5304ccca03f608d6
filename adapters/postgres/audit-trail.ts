/**
 * The `audit-trail` check at a PostgreSQL point of use: the server's own log (server-log.ts) holds,
 * as separate records, the grant's login (each session the task held: `connection authorized` as
 * the login, by the backend pid the scenario saw), that session's end (`disconnection`, same pid)
 * and the login role's removal at the grant's end (a logged `DROP ROLE` naming it, before residue
 * was read: a removal only at teardown is the harness cleaning up, not the grant ending). Each
 * missing record is named; any missing is `fail`. A log that cannot be read, or a session still
 * running when the trail is judged (its end may yet be written), is `inconclusive`.
 *
 * Where the target names no log jitc can read (an external target without `postgres.serverLog`)
 * the check is not emitted: the evidence says it is not evidenced on this target.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { pgErrorText } from './probes.ts';
import type { PgContext } from './fixtures.ts';
import { type LogEntry, loginTrailOf, ServerLogCursor } from './server-log.ts';

const KEY = {
  cursor: 'serverLogCursor',
  unreadable: 'serverLogUnreadable',
  session: 'grantSession',
  marks: 'residueMarks',
} as const;

/** How long the logging collector gets to write what a backend sent it: records arrive a few ms late. */
const SETTLE_MS = 3000;

/** Note where the server's log ends now: the scenario reads only what follows. Call before anything is created. */
export async function openServerLog(ctx: PgContext): Promise<void> {
  const path = ctx.client.settings.serverLog;
  if (!path) {
    // The marker the reports show per control as a gap (reports/writers/summary.ts).
    ctx.evidence.record('audit-trail not evidenced on this target: no server log is named (postgres.serverLog, a jsonlog file with log_connections, log_disconnections and log_statement = ddl)', {
      notEvidenced: 'audit-trail',
    });
    return;
  }
  try {
    const cursor = await ServerLogCursor.open(path);
    ctx.state.set(KEY.cursor, cursor);
    ctx.evidence.record(`server log read from ${path} from byte ${cursor.end}`, { log: path, offset: cursor.end });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    ctx.state.set(KEY.unreadable, why);
    ctx.evidence.record(`the server log could not be opened: ${why}`);
  }
}

/** The session the task opened with its login and held across the end: whose records are judged. */
export function rememberGrantSession(ctx: PgContext, user: string, pid: number): void {
  if (!ctx.state.has(KEY.session)) ctx.state.set(KEY.session, { user, pid });
}

function markText(ctx: PgContext, n: number): string {
  return `jitc residue-read ${ctx.prefix} ${n}`;
}

/**
 * Once the grant's session exists, every read of what reaches the resource writes a marker into the
 * server's log through the admin's connection: the grant's end must be logged before the last one
 * (the residue read), whatever either clock says. A marker that cannot be written leaves the earlier
 * ones; with none, the check cannot place the end and says so.
 */
export async function markResidueRead(ctx: PgContext): Promise<void> {
  if (!ctx.state.has(KEY.cursor) || !ctx.state.has(KEY.session)) return;
  const n = ((ctx.state.get(KEY.marks) as number | undefined) ?? 0) + 1;
  try {
    await ctx.client.admin.query(`DO $$ BEGIN RAISE LOG '${markText(ctx, n).replace(/'/g, "''")}'; END $$`);
    ctx.state.set(KEY.marks, n);
  } catch (error) {
    ctx.evidence.record(`the residue marker could not be written to the server log: ${pgErrorText(error)}`);
  }
}

/** Whether the server still runs this backend: its end may not be logged yet. */
async function stillRunning(ctx: PgContext, pid: number): Promise<boolean | 'unknown'> {
  try {
    return (await ctx.client.admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rows.length > 0;
  } catch {
    return 'unknown';
  }
}

function shown(entry: LogEntry): Record<string, string | number> {
  return { time: entry.time, pid: entry.pid, user: entry.user, database: entry.database, message: entry.message.slice(0, 200) };
}

/** Judge the grant's trail. Call at teardown, once the sessions the scenario held were ended. */
export async function judgeServerLog(ctx: PgContext): Promise<void> {
  const unreadable = ctx.state.get(KEY.unreadable) as string | undefined;
  if (unreadable !== undefined) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `the server log could not be read: ${unreadable}` });
    return;
  }
  const cursor = ctx.state.get(KEY.cursor) as ServerLogCursor | undefined;
  if (!cursor) return;
  const session = ctx.state.get(KEY.session) as { user: string; pid: number } | undefined;
  if (!session) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: 'the grant never opened a session at the point of use, so there is no login to find in the server log' });
    return;
  }
  const marks = (ctx.state.get(KEY.marks) as number | undefined) ?? 0;
  if (marks === 0) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: 'no residue read was marked in the server log, so the end of the grant cannot be placed in it' });
    return;
  }
  const lastMark = markText(ctx, marks);
  const started = Date.now();
  let trail;
  let endBy: number | undefined;
  // The collector writes what backends send it a moment later: read again until everything is there or it settled.
  for (;;) {
    try {
      await cursor.read();
    } catch (error) {
      ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `the server log could not be read: ${error instanceof Error ? error.message : String(error)}` });
      return;
    }
    endBy = cursor.entries.find((e) => e.message === lastMark)?.at;
    trail = loginTrailOf(cursor.entries, session.user, [session.pid], endBy ?? Number.POSITIVE_INFINITY);
    const complete = endBy !== undefined && trail.removal !== undefined && trail.sessions.every((s) => s.login && s.end);
    if (complete || Date.now() - started >= SETTLE_MS) break;
    await sleep(250);
  }
  if (cursor.parsed === 0 && cursor.unparsed > 0) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `${cursor.path} holds no jsonlog record since the scenario set up (${cursor.unparsed} lines in another format): set log_destination = 'jsonlog'` });
    return;
  }
  if (endBy === undefined) {
    ctx.report({
      check: 'audit-trail',
      verdict: 'inconclusive',
      detail: `the residue marker jitc raised (RAISE LOG) is not in ${cursor.path}: the log does not show what this scenario did (log_min_messages above LOG, or another server's log), so the end of the grant cannot be placed in it`,
    });
    return;
  }
  const who = `login ${session.user}`;
  const found: { record: string; entry: LogEntry }[] = [];
  const missing: string[] = [];
  const doubts: string[] = [];
  for (const s of trail.sessions) {
    if (s.login) found.push({ record: `login (backend pid ${s.pid})`, entry: s.login });
    else missing.push(`login (no "connection authorized" as ${session.user} by backend pid ${s.pid})`);
    if (s.end) {
      found.push({ record: `session end (backend pid ${s.pid})`, entry: s.end });
      continue;
    }
    const running = await stillRunning(ctx, s.pid);
    if (running === false) missing.push(`session end (no "disconnection" by backend pid ${s.pid}, which no longer runs)`);
    else doubts.push(`the session of backend pid ${s.pid} ${running === true ? 'still runs' : 'may still run (pg_stat_activity did not answer)'}, so its end may yet be logged`);
  }
  if (trail.removal) found.push({ record: 'role removal', entry: trail.removal });
  else if (trail.lateRemoval) missing.push(`role removal at the grant's end (${session.user} was dropped only at teardown, after residue was read, at ${trail.lateRemoval.time})`);
  else missing.push(`role removal (no logged DROP ROLE naming ${session.user})`);
  ctx.evidence.record(`server log records of the grant's login in ${cursor.path}`, {
    log: cursor.path,
    login: session.user,
    backendPid: session.pid,
    found: found.map((f) => ({ record: f.record, ...shown(f.entry) })),
    missing,
    ...(doubts.length > 0 ? { undecided: doubts } : {}),
  });
  const described = found.map((f) => `${f.record} at ${f.entry.time}`).join('; ');
  if (missing.length > 0) {
    ctx.report({ check: 'audit-trail', verdict: 'fail', detail: `missing from ${cursor.path}: ${missing.join('; ')}${described ? `; found ${described}` : ''}` });
  } else if (doubts.length > 0) {
    ctx.report({ check: 'audit-trail', verdict: 'inconclusive', detail: `${doubts.join('; ')}; found ${described}` });
  } else {
    ctx.report({ check: 'audit-trail', verdict: 'pass', detail: `${cursor.path} records the grant's ${who}: ${described}` });
  }
}
