/**
 * Sessions opened during use. PostgreSQL checks privileges per statement against what the
 * session's role holds now, but nothing ends a session because its role lost a membership, passed
 * its VALID UNTIL or was dropped: the backend keeps running, as an OID that names no role any
 * more. So the connection the task opened is held across the end and probed on itself — never
 * reopened, which would be a new login — and asked whether it still runs statements at all.
 */
import type pg from 'pg';
import type { CredentialOf, ProbeResult, ReuseHandle } from '../contract.ts';
import { applicationName, type PgContext, trackSession } from './fixtures.ts';
import { classifyPgError, classifySessionEnd, describePgError, pgErrorText, type SessionEnd, selectRows } from './probes.ts';

interface HeldSession {
  client: pg.Client;
  user: string;
  /** Its backend's pid, as the server stated it when the session opened. */
  pid: number;
  /** What the connection's listeners saw of its end. */
  end: SessionEnd;
  /** The stream ended (the server closed it, or jitc did). */
  closed: boolean;
  closedByJitc: boolean;
}

/** Record what ends the connection, as it happens: a held session is idle, so the server's word arrives as an event. */
function watch(session: HeldSession): void {
  session.client.on('error', (error: unknown) => noteFailure(session, error));
  session.client.on('end', () => {
    session.closed = true;
  });
}

/** The server's FATAL, or a failure of the connection itself; node-postgres' own "terminated" notice adds nothing. */
function noteFailure(session: HeldSession, error: unknown): void {
  const answer = describePgError(error);
  if (answer.kind === 'server') {
    if (answer.severity === 'FATAL' || answer.severity === 'PANIC') session.end.fatal ??= { code: answer.code, text: answer.text };
  } else if (answer.code) {
    session.end.transport ??= answer.text;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Give the stream a moment to report its end after a statement failed with the connection. */
async function settle(session: HeldSession): Promise<void> {
  for (let i = 0; i < 10 && !session.closed; i++) await sleep(20);
}

const ended = (session: HeldSession): boolean => session.closed || session.end.fatal !== null || session.end.transport !== null;

/** Log in for the task on a connection of its own. Returns the session, or the login's answer when it was refused. */
export async function openSession(ctx: PgContext, login: CredentialOf<'db-login'>): Promise<{ session: HeldSession } | { refused: ProbeResult }> {
  const client = ctx.client.login(login.user, login.password, { applicationName: applicationName(ctx) });
  const session: HeldSession = { client, user: login.user, pid: 0, end: { fatal: null, transport: null }, closed: false, closedByJitc: false };
  watch(session);
  try {
    await client.connect();
    const answer = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    session.pid = answer.rows[0]?.pid ?? 0;
    return { session };
  } catch (error) {
    session.closedByJitc = true;
    await client.end().catch(() => undefined);
    return { refused: classifyPgError(error) };
  }
}

/** The task's read on the session it opened. */
export async function readOnSession(session: HeldSession, table: string): Promise<ProbeResult> {
  try {
    return { outcome: 'allowed', at: new Date().toISOString(), detail: `${await selectRows(session.client, table)} as ${session.user} (backend pid ${session.pid})` };
  } catch (error) {
    return classifyPgError(error);
  }
}

export async function closeSession(session: HeldSession): Promise<void> {
  if (session.closedByJitc) return;
  session.closedByJitc = true;
  await session.client.end();
}

/** What the admin sees of a backend: the role name is NULL there once the role was dropped. */
async function activityOf(ctx: PgContext, pid: number): Promise<string> {
  try {
    const found = await ctx.client.admin.query<{ usename: string | null; usesysid: string | null; state: string | null }>(
      'SELECT usename, usesysid::text AS usesysid, state FROM pg_stat_activity WHERE pid = $1',
      [pid],
    );
    const row = found.rows[0];
    if (!row) return `pg_stat_activity has no pid ${pid}`;
    const role = row.usename === null ? `usename NULL (its role, oid ${row.usesysid ?? '?'}, no longer exists)` : `usename ${row.usename}`;
    return `pg_stat_activity shows pid ${pid} with ${role}, state ${row.state ?? '?'}`;
  } catch (error) {
    return `pg_stat_activity could not be read: ${pgErrorText(error)}`;
  }
}

/**
 * A session reads as ended only when the server no longer runs its backend: a connection that
 * closed (or a FATAL that arrived) in front of a backend still running — a pooler or proxy between
 * jitc and the server — has not ended the session on the server. Asked of the server by the admin,
 * for a moment, since a terminated backend takes a few milliseconds to exit.
 */
async function confirmEnded(ctx: PgContext, session: HeldSession, said: ProbeResult): Promise<ProbeResult> {
  if (said.outcome !== 'denied') return said;
  for (let i = 0; i < 10; i++) {
    let running: boolean;
    try {
      running = (await ctx.client.admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [session.pid])).rows.length > 0;
    } catch (error) {
      return { outcome: 'unknown', at: said.at, detail: `${said.detail}, but whether its backend still runs could not be read: ${pgErrorText(error)}` };
    }
    if (!running) return { ...said, detail: `${said.detail}; its backend (pid ${session.pid}) no longer runs on the server` };
    await sleep(100);
  }
  return { outcome: 'unknown', at: said.at, detail: `${said.detail}, yet its backend (pid ${session.pid}) still runs on the server: ${await activityOf(ctx, session.pid)}` };
}

/** Who the session says it runs as: current_user fails on a session whose role was dropped. */
async function runsAs(session: HeldSession): Promise<string> {
  try {
    const answer = await session.client.query<{ user: string }>('SELECT current_user AS user');
    return `as ${answer.rows[0]?.user ?? '?'}: the session of a role that lost the privilege, left running`;
  } catch (error) {
    return `though current_user fails (${pgErrorText(error)}): the session of a dropped role, left running`;
  }
}

/** The held session's probe: the table read, then, when that is refused, whether the session still runs statements. */
function probeHeld(ctx: PgContext, session: HeldSession, table: string): () => Promise<ProbeResult> {
  return async () => {
    if (session.closedByJitc) return { outcome: 'unknown', at: new Date().toISOString(), detail: 'jitc closed the session; a held session is never reopened' };
    if (ended(session)) return confirmEnded(ctx, session, classifySessionEnd(session.end));
    let refusal: string;
    try {
      const read = await selectRows(session.client, table);
      return { outcome: 'allowed', at: new Date().toISOString(), detail: `${read} on the session held since use (backend pid ${session.pid}, logged in as ${session.user})` };
    } catch (error) {
      noteFailure(session, error);
      refusal = pgErrorText(error);
    }
    if (ended(session)) {
      await settle(session);
      return confirmEnded(ctx, session, classifySessionEnd(session.end));
    }
    let pid: number | undefined;
    try {
      pid = (await session.client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    } catch (error) {
      noteFailure(session, error);
      await settle(session);
      if (ended(session)) return confirmEnded(ctx, session, classifySessionEnd(session.end));
      return { outcome: 'unknown', at: new Date().toISOString(), detail: `the table read failed (${refusal}) and so did a liveness query (${pgErrorText(error)}), on a connection that did not end` };
    }
    // A session that still runs statements has not ended, whatever its role may no longer do.
    const who = await runsAs(session);
    return {
      outcome: 'allowed',
      at: new Date().toISOString(),
      detail: `the table read is refused (${refusal}), yet the session still runs statements: backend pid ${pid ?? session.pid} still answers ${who}; ${await activityOf(ctx, session.pid)}`,
    };
  };
}

/** Hold `session` across the end: the handle the engine probes on it after the grant ended. */
export function holdSession(ctx: PgContext, session: HeldSession, table: string): ReuseHandle {
  trackSession(ctx, session.pid);
  ctx.evidence.record('session opened during use kept open across the end of the grant', { user: session.user, backendPid: session.pid });
  return {
    name: 'PostgreSQL session opened during use',
    check: 'session-ended-with-task',
    boundToConnection: true,
    probe: probeHeld(ctx, session, table),
    close: () => closeSession(session),
  };
}
