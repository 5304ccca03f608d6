/**
 * PostgreSQL's own log as the audit trail of a database login, read from a `jsonlog` file (one
 * JSON object a line; PostgreSQL 15 and later): with log_connections, log_disconnections and
 * log_statement = 'ddl' on, a grant's login leaves
 *
 * - `connection authorized: user=<login> …` when a session of it starts (its backend's pid),
 * - `disconnection: session time: … user=<login> …` when that session ends (the same pid),
 * - `statement: DROP ROLE … "<login>"` (or `execute <name>: …`) when it is removed,
 *
 * each a record of its own, written by the server. The log is read from the byte offset noted when
 * the scenario set up, and only what was appended since; only the lines correlation needs are kept.
 * Markers jitc writes itself (RAISE LOG, see audit-trail.ts) order the log against the lifecycle
 * without trusting either clock. See docs/architecture.md.
 */
import { linesSince, logEnd } from '../log-lines.ts';

/** One kept line of the log: no statement text beyond a role's removal, and never a parameter. */
export interface LogEntry {
  /** Byte offset of the line: order, without trusting either clock. */
  at: number;
  time: string;
  pid: number;
  user: string;
  database: string;
  severity: string;
  message: string;
  /** On an ERROR: the statement it answered, as the server logged it. */
  statement: string;
}

interface RawLine {
  timestamp?: unknown;
  pid?: unknown;
  user?: unknown;
  dbname?: unknown;
  error_severity?: unknown;
  message?: unknown;
  statement?: unknown;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** The statement as log_statement writes it: `statement: <text>`, or `execute <name>: <text>` for the extended protocol. */
const LOGGED_STATEMENT = /^(?:statement|execute [^:]*): ([\s\S]*)$/;
const DROPS_ROLE = /\bdrop\s+(?:role|user)\b/i;
/** A marker jitc raises on the target: `jitc <what> <scenario prefix> <n>`. */
export const MARK = /^jitc [a-z-]+ jitc-/;

/** Lines worth keeping: session starts and ends, statements and errors about dropping a role, jitc's markers. */
function kept(severity: string, message: string, statement: string): boolean {
  if (message.startsWith('connection authorized: ') || message.startsWith('disconnection: ')) return true;
  if (MARK.test(message)) return true;
  const logged = LOGGED_STATEMENT.exec(message);
  if (logged && DROPS_ROLE.test(logged[1]!)) return true;
  return severity === 'ERROR' && DROPS_ROLE.test(statement);
}

/** One line of the log, or undefined when it is not a jsonlog record (a partial write, another format). */
export function parseLine(line: string, at: number): LogEntry | 'other' | undefined {
  if (!line.startsWith('{')) return undefined;
  let raw: RawLine;
  try {
    raw = JSON.parse(line) as RawLine;
  } catch {
    return undefined;
  }
  const message = text(raw.message);
  const severity = text(raw.error_severity);
  const statement = text(raw.statement);
  if (!kept(severity, message, statement)) return 'other';
  return { at, time: text(raw.timestamp), pid: typeof raw.pid === 'number' ? raw.pid : 0, user: text(raw.user), database: text(raw.dbname), severity, message, statement };
}

/**
 * One scenario's reading of the log: from where the file ended when it opened, each read taking
 * what was appended since. A line the server is still writing is left for the next read.
 */
export class ServerLogCursor {
  readonly entries: LogEntry[] = [];
  /** Lines read that are not jsonlog records: a log in another format says nothing this reader can judge. */
  unparsed = 0;
  parsed = 0;

  private constructor(
    readonly path: string,
    private offset: number,
  ) {}

  /** Start at the log's current end. A log that does not exist or cannot be read throws: that trail is unreadable. */
  static async open(path: string): Promise<ServerLogCursor> {
    return new ServerLogCursor(path, await logEnd(path));
  }

  get end(): number {
    return this.offset;
  }

  async read(): Promise<void> {
    const { lines, end } = await linesSince(this.path, this.offset, 'the server log');
    for (const line of lines) this.take(line.text, line.at);
    this.offset = end;
  }

  private take(line: string, at: number): void {
    if (line.trim() === '') return;
    const entry = parseLine(line, at);
    if (entry === undefined) {
      this.unparsed += 1;
      return;
    }
    this.parsed += 1;
    if (entry !== 'other') this.entries.push(entry);
  }
}

/** Whether a statement drops `role` by name (quoted or not, in a list, with IF EXISTS). */
export function dropsRole(statement: string, role: string): boolean {
  const drop = /\bdrop\s+(?:role|user)\s+(?:if\s+exists\s+)?([^;]+)/gi;
  for (const match of statement.matchAll(drop)) {
    const names = match[1]!.split(',').map((n) => n.trim().replace(/^"(.*)"$/s, (_, inner: string) => inner.replace(/""/g, '"')));
    if (names.includes(role)) return true;
  }
  return false;
}

/** The records of one login's life, as found (or not) in the log. */
export interface LoginTrail {
  /** Per session the scenario held: its start and its end. */
  sessions: { pid: number; login?: LogEntry; end?: LogEntry }[];
  /** The statement that removed the role, before `endBy`, with no error answering it. */
  removal?: LogEntry;
  /** A removal logged only after `endBy`: the harness's own teardown, not the grant's end. */
  lateRemoval?: LogEntry;
}

/**
 * Find a login's records: for each backend pid the scenario saw, the session's start as `user` and
 * its end; and the statement dropping the role, logged before `endBy` (the offset of the marker
 * written when residue was read) and not answered by an ERROR from the same backend.
 */
export function loginTrailOf(entries: readonly LogEntry[], user: string, pids: readonly number[], endBy: number): LoginTrail {
  const sessions = pids.map((pid) => ({
    pid,
    login: entries.find((e) => e.pid === pid && e.user === user && e.message.startsWith('connection authorized: ')),
    end: entries.find((e) => e.pid === pid && e.message.startsWith('disconnection: ')),
  }));
  const drops = entries.filter((e) => {
    const logged = LOGGED_STATEMENT.exec(e.message);
    if (!logged || !dropsRole(logged[1]!, user)) return false;
    const statement = logged[1]!;
    // A statement the server refused removed nothing: its ERROR names the same statement, from the same backend, after it.
    return !entries.some((x) => x.at > e.at && x.pid === e.pid && x.severity === 'ERROR' && x.statement === statement);
  });
  return { sessions, removal: drops.find((e) => e.at < endBy), lateRemoval: drops.find((e) => e.at >= endBy) };
}
