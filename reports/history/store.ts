/**
 * The run history: one SQLite file (default `.jitc/history.sqlite` in the project), read and
 * written with sql.js — SQLite compiled to WebAssembly, so no native build on any machine.
 *
 * sql.js works on an in-memory copy of the database, so recording a run is read file → insert →
 * export → write file. Two runs finishing together would each write their own copy and one would
 * lose the other's rows, hence:
 * - a lock file (`<file>.lock`, created with O_EXCL) serialises writers; it is held only for the
 *   few milliseconds of read-insert-write. A writer that finds it waits with backoff (30 s by
 *   default). A lock left by a killed writer is taken over when its process is gone (same host)
 *   or it is older than ten minutes. The only race left is two writers taking over the same stale
 *   lock at once, which can lose one run's rows but never corrupts the file (see next point).
 * - the file is replaced atomically: written to a temporary file in the same directory, fsynced,
 *   then renamed over the old one. A reader (`jitc history`) needs no lock: it sees the whole old
 *   file or the whole new one.
 */
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import initSqlJs, { type Database, type SqlJsStatic, type SqlValue } from 'sql.js';
import type { Verdict } from '../../scenarios/verdict.ts';
import type { RecordedCheck, RecordedRun, RecordedScenario } from './record.ts';
import { InputError } from '../../scenarios/input.ts';

/** Bumped when the tables change; a file written by a newer jitc is refused, not misread. */
export const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  recorded_at TEXT NOT NULL,
  source TEXT NOT NULL,
  exit_code INTEGER NOT NULL,
  doubtful INTEGER NOT NULL,
  pass INTEGER NOT NULL,
  fail INTEGER NOT NULL,
  inconclusive INTEGER NOT NULL,
  waived INTEGER NOT NULL,
  shards TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scenarios (
  run_id TEXT NOT NULL,
  adapter TEXT NOT NULL,
  scenario TEXT NOT NULL,
  title TEXT NOT NULL,
  target_mode TEXT NOT NULL,
  target_address TEXT NOT NULL,
  target_key TEXT NOT NULL,
  identity TEXT NOT NULL,
  verdict TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  elevated INTEGER NOT NULL,
  ttl_seconds REAL,
  ttl_requested_seconds REAL,
  window_seconds REAL,
  revocation_latency_ms REAL,
  session_outlived_ttl_ms REAL NOT NULL,
  privilege_width REAL,
  residue INTEGER NOT NULL,
  waiver_id TEXT,
  waiver_expires TEXT,
  break_glass INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, adapter, scenario)
);
CREATE TABLE IF NOT EXISTS checks (
  run_id TEXT NOT NULL,
  adapter TEXT NOT NULL,
  scenario TEXT NOT NULL,
  seq INTEGER NOT NULL,
  name TEXT NOT NULL,
  verdict TEXT NOT NULL,
  severity TEXT NOT NULL,
  detail TEXT NOT NULL,
  controls TEXT NOT NULL,
  PRIMARY KEY (run_id, adapter, scenario, seq)
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);
CREATE INDEX IF NOT EXISTS scenarios_by_target ON scenarios (adapter, scenario, target_key);
CREATE INDEX IF NOT EXISTS scenarios_by_identity ON scenarios (identity);
`;

const TABLES = ['meta', 'runs', 'scenarios', 'checks'];

let sqlJs: Promise<SqlJsStatic> | undefined;
const loadSqlJs = (): Promise<SqlJsStatic> => (sqlJs ??= initSqlJs());

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function query(db: Database, sql: string, params: SqlValue[] = []): Record<string, SqlValue>[] {
  const statement = db.prepare(sql);
  try {
    statement.bind(params);
    const rows: Record<string, SqlValue>[] = [];
    while (statement.step()) rows.push(statement.getAsObject() as Record<string, SqlValue>);
    return rows;
  } finally {
    statement.free();
  }
}

function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch {
    return undefined;
  }
}

/** Opens the file (or a new database when it does not exist yet) and makes sure it is ours. */
async function openHistory(file: string): Promise<Database> {
  const SQL = await loadSqlJs();
  const stat = lstatOrUndefined(file);
  if (stat?.isDirectory()) throw new InputError(`${file}: is a directory, not a run history file`);
  // Replaced by rename when recorded: a link would be replaced by a file, a FIFO would hang the read.
  if (stat && !stat.isFile()) throw new InputError(`${file}: is not a regular file (a link, FIFO or device is never read or replaced)`);
  const bytes = stat ? readFileSync(file) : undefined;
  const db = bytes && bytes.length > 0 ? new SQL.Database(bytes) : new SQL.Database();
  try {
    const tables = query(db, "SELECT name FROM sqlite_master WHERE type = 'table'").map((r) => String(r['name']));
    // A file that exists is a history jitc wrote (its tables are there from the first record on);
    // an empty file or an empty database is someone else's and is never taken over.
    if (stat && tables.length === 0) throw new InputError(`${file}: exists but is not a jitc run history (${bytes?.length ? 'a SQLite file without tables' : 'an empty file'}); jitc never overwrites a file it did not write`);
    if (tables.length > 0) {
      // Someone else's SQLite file must not get our tables mixed into it.
      if (!tables.includes('meta') || !tables.includes('runs')) throw new InputError(`${file}: a SQLite file, but not a jitc run history (tables: ${tables.join(', ')})`);
      const version = Number(query(db, "SELECT value FROM meta WHERE key = 'schema'")[0]?.['value']);
      if (!Number.isInteger(version)) throw new InputError(`${file}: a jitc run history without a schema version`);
      if (version > SCHEMA_VERSION) throw new InputError(`${file}: written by a newer jitc (history schema ${version}, this one reads up to ${SCHEMA_VERSION})`);
    }
    db.run(SCHEMA);
    // A history recorded before break-glass scenarios existed: its rows are routine ones. The
    // column has a default, so a reader or writer that does not know it still works on the file.
    if (!query(db, 'PRAGMA table_info(scenarios)').some((c) => c['name'] === 'break_glass')) db.run('ALTER TABLE scenarios ADD COLUMN break_glass INTEGER NOT NULL DEFAULT 0');
    db.run("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", [String(SCHEMA_VERSION)]);
    for (const t of TABLES) if (query(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", [t]).length === 0) throw new Error(`table ${t} missing`);
    return db;
  } catch (error) {
    db.close();
    if (error instanceof InputError) throw error;
    throw new InputError(`${file}: not a usable jitc run history (${errorText(error)})`);
  }
}

/** Throws InputError when the file exists but is not a history this jitc can read and extend. */
export async function checkHistoryFile(file: string): Promise<void> {
  if (!lstatOrUndefined(file)) return;
  (await openHistory(file)).close();
}

function deleteRuns(db: Database, runIds: readonly string[]): void {
  for (const table of ['checks', 'scenarios', 'runs']) {
    for (const id of runIds) db.run(`DELETE FROM ${table} WHERE run_id = ?`, [id]);
  }
}

function insertRun(db: Database, run: RecordedRun): void {
  db.run(
    'INSERT INTO runs (run_id, started_at, finished_at, recorded_at, source, exit_code, doubtful, pass, fail, inconclusive, waived, shards) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    [run.runId, run.startedAt, run.finishedAt, new Date().toISOString(), run.source, run.exitCode, run.doubtful ? 1 : 0, run.totals.pass, run.totals.fail, run.totals.inconclusive, run.totals.waived, JSON.stringify(run.shards)],
  );
  const scenario = db.prepare(
    'INSERT INTO scenarios (run_id, adapter, scenario, title, target_mode, target_address, target_key, identity, verdict, started_at, finished_at, elevated, ttl_seconds, ttl_requested_seconds, window_seconds, revocation_latency_ms, session_outlived_ttl_ms, privilege_width, residue, waiver_id, waiver_expires, break_glass) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const check = db.prepare('INSERT INTO checks (run_id, adapter, scenario, seq, name, verdict, severity, detail, controls) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  try {
    for (const s of run.scenarios) {
      scenario.run([
        run.runId, s.adapter, s.scenario, s.title, s.targetMode, s.targetAddress, s.targetKey, s.identity, s.verdict, s.startedAt, s.finishedAt, s.elevated ? 1 : 0,
        s.ttlSeconds, s.ttlRequestedSeconds, s.windowSeconds, s.revocationLatencyMs, s.sessionOutlivedTtlMs, s.privilegeWidth, s.residue, s.waiverId, s.waiverExpires, s.breakGlass ? 1 : 0,
      ]);
      s.checks.forEach((c, seq) => check.run([run.runId, s.adapter, s.scenario, seq, c.name, c.verdict, c.severity, c.detail, JSON.stringify(c.controls)]));
    }
  } finally {
    scenario.free();
    check.free();
  }
}

/** Temporary file beside the target (same filesystem, so the rename is atomic), fsynced, renamed. */
function writeAtomically(file: string, bytes: Uint8Array): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

interface LockOwner {
  pid: number;
  host: string;
  at: string;
}

/** A lock older than this belongs to a writer that died: writing takes milliseconds. */
const STALE_LOCK_MS = 10 * 60_000;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockOwner(lock: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(lock, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

function isStale(lock: string): boolean {
  let ageMs: number;
  try {
    ageMs = Date.now() - statSync(lock).mtimeMs;
  } catch {
    return false; // gone already: the next attempt will take it
  }
  if (ageMs > STALE_LOCK_MS) return true;
  const owner = lockOwner(lock);
  // A half-written lock (its writer between open and write) is young and not stale.
  if (!owner) return false;
  return owner.host === hostname() && !processAlive(owner.pid);
}

export interface LockOptions {
  /** How long to wait for another writer, ms (default 30 s). */
  timeoutMs?: number;
}

async function withLock<T>(file: string, options: LockOptions, body: () => Promise<T> | T): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      try {
        writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), at: new Date().toISOString() } satisfies LockOwner));
      } finally {
        closeSync(fd);
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (isStale(lock)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() >= deadline) {
        const owner = lockOwner(lock);
        throw new Error(`${lock} is held by another jitc${owner ? ` (pid ${owner.pid} on ${owner.host} since ${owner.at})` : ''}; remove it if no jitc is writing`);
      }
      const backoff = Math.min(25 * 2 ** Math.min(attempt, 5), 500);
      await new Promise((resolve) => setTimeout(resolve, backoff + Math.random() * backoff));
    }
  }
  try {
    return await body();
  } finally {
    rmSync(lock, { force: true });
  }
}

/**
 * Adds a run to the history (replacing an earlier record of the same run id). A merged run
 * supersedes the shards it combines, so a sharded run counts once in the trends.
 */
export async function recordRun(file: string, run: RecordedRun, options: LockOptions = {}): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  await withLock(file, options, async () => {
    const db = await openHistory(file);
    try {
      db.run('BEGIN');
      deleteRuns(db, [run.runId, ...run.shards]);
      insertRun(db, run);
      db.run('COMMIT');
      writeAtomically(file, db.export());
    } finally {
      db.close();
    }
  });
}

export interface LoadedHistory {
  /** The runs asked for, oldest first. */
  runs: RecordedRun[];
  /** How many runs the file holds in all. */
  totalRuns: number;
}

const text = (v: SqlValue | undefined): string => (v === null || v === undefined ? '' : String(v));
const numberOrNull = (v: SqlValue | undefined): number | null => (v === null || v === undefined ? null : Number(v));

/** The last `last` runs (all when undefined), oldest first. Reads without the lock: writes are atomic. */
export async function loadHistory(file: string, last?: number): Promise<LoadedHistory> {
  if (!existsSync(file)) throw new InputError(`${file}: no run history there (jitc run records one)`);
  const db = await openHistory(file);
  try {
    const totalRuns = Number(query(db, 'SELECT count(*) AS n FROM runs')[0]?.['n'] ?? 0);
    const runRows = query(db, 'SELECT * FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?', [last ?? -1]).reverse();
    const runs = runRows.map((r): RecordedRun => {
      const runId = text(r['run_id']);
      const checks = new Map<string, RecordedCheck[]>();
      for (const c of query(db, 'SELECT * FROM checks WHERE run_id = ? ORDER BY adapter, scenario, seq', [runId])) {
        const key = `${text(c['adapter'])}/${text(c['scenario'])}`;
        const list = checks.get(key) ?? [];
        list.push({ name: text(c['name']), verdict: text(c['verdict']), severity: text(c['severity']), detail: text(c['detail']), controls: JSON.parse(text(c['controls'])) as string[] });
        checks.set(key, list);
      }
      const scenarios = query(db, 'SELECT * FROM scenarios WHERE run_id = ? ORDER BY adapter, scenario', [runId]).map(
        (s): RecordedScenario => ({
          adapter: text(s['adapter']),
          scenario: text(s['scenario']),
          title: text(s['title']),
          targetMode: text(s['target_mode']),
          targetAddress: text(s['target_address']),
          targetKey: text(s['target_key']),
          identity: text(s['identity']),
          verdict: text(s['verdict']) as Verdict,
          startedAt: text(s['started_at']),
          finishedAt: text(s['finished_at']),
          elevated: Number(s['elevated']) === 1,
          ttlSeconds: numberOrNull(s['ttl_seconds']),
          ttlRequestedSeconds: numberOrNull(s['ttl_requested_seconds']),
          windowSeconds: numberOrNull(s['window_seconds']),
          revocationLatencyMs: numberOrNull(s['revocation_latency_ms']),
          sessionOutlivedTtlMs: Number(s['session_outlived_ttl_ms']),
          privilegeWidth: numberOrNull(s['privilege_width']),
          residue: Number(s['residue']),
          waiverId: s['waiver_id'] === null ? null : text(s['waiver_id']),
          waiverExpires: s['waiver_expires'] === null ? null : text(s['waiver_expires']),
          breakGlass: Number(s['break_glass']) === 1,
          checks: checks.get(`${text(s['adapter'])}/${text(s['scenario'])}`) ?? [],
        }),
      );
      return {
        runId,
        startedAt: text(r['started_at']),
        finishedAt: text(r['finished_at']),
        source: text(r['source']) === 'merge' ? 'merge' : 'run',
        exitCode: Number(r['exit_code']),
        doubtful: Number(r['doubtful']) === 1,
        totals: { pass: Number(r['pass']), fail: Number(r['fail']), inconclusive: Number(r['inconclusive']), waived: Number(r['waived']) },
        shards: JSON.parse(text(r['shards'])) as string[],
        scenarios,
      };
    });
    return { runs, totalRuns };
  } finally {
    db.close();
  }
}
