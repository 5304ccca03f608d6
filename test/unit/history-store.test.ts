/**
 * The run history file: what a run records reads back whole, a merged run supersedes its shards,
 * writers running at once lose nothing, a dead writer's lock is taken over, and a file that is
 * not a jitc history is refused as bad input instead of being overwritten.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import initSqlJs from 'sql.js';
import { describe, expect, test } from 'vitest';
import type { RecordedRun, RecordedScenario } from '../../reports/history/record.ts';
import { checkHistoryFile, loadHistory, recordRun, SCHEMA_VERSION } from '../../reports/history/store.ts';
import { InputError, PROJECT_ROOT } from '../../scenarios/input.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-history-store-'));
let n = 0;
const freshFile = (): string => join(scratch, `h${++n}`, 'history.sqlite');

function scenario(overrides: Partial<RecordedScenario> = {}): RecordedScenario {
  return {
    adapter: 'vault',
    scenario: 'token-revoke-at-task-end',
    title: 'A JIT token revoked at task end is denied within a second',
    targetMode: 'local',
    targetAddress: 'http://127.0.0.1:41234',
    targetKey: 'local OpenBao',
    identity: 'vault local OpenBao scenario token-revoke-at-task-end',
    verdict: 'pass',
    startedAt: '2026-01-01T00:00:01.000Z',
    finishedAt: '2026-01-01T00:00:02.000Z',
    elevated: true,
    ttlSeconds: 30,
    ttlRequestedSeconds: 30,
    windowSeconds: 30,
    revocationLatencyMs: 18,
    sessionOutlivedTtlMs: 0,
    privilegeWidth: 1,
    residue: 0,
    waiverId: null,
    waiverExpires: null,
    breakGlass: false,
    checks: [
      { name: 'reuse-denied', verdict: 'pass', severity: 'critical', detail: 'JIT token denied 18 ms after the end', controls: ['NIST-CSF-PR.AC-4', 'OWASP-NHI-03'] },
      { name: 'no-residue', verdict: 'pass', severity: 'high', detail: 'nothing left', controls: ['OWASP-NHI-01'] },
    ],
    ...overrides,
  };
}

function run(runId: string, startedAt: string, scenarios: RecordedScenario[] = [scenario()], overrides: Partial<RecordedRun> = {}): RecordedRun {
  const totals = { pass: 0, fail: 0, inconclusive: 0, waived: 0 };
  for (const s of scenarios) totals[s.verdict] += 1;
  return { runId, startedAt, finishedAt: startedAt, source: 'run', exitCode: 0, doubtful: false, totals, shards: [], scenarios, ...overrides };
}

describe('run history file', () => {
  test('a recorded run reads back with every scenario, check, metric and waiver', async () => {
    const file = freshFile();
    const waived = scenario({ adapter: 'aws', scenario: 'sts-assume-role-expiry', verdict: 'waived', revocationLatencyMs: null, sessionOutlivedTtlMs: 40_000, privilegeWidth: null, residue: 2, waiverId: 'emulator-expiry', waiverExpires: '2027-06-30', elevated: false });
    const recorded = run('r1', '2026-01-01T00:00:00.000Z', [scenario(), waived], { exitCode: 1, doubtful: true });
    await recordRun(file, recorded);
    const { runs, totalRuns } = await loadHistory(file);
    expect(totalRuns).toBe(1);
    expect(runs).toHaveLength(1);
    // Scenarios come back in adapter/scenario order.
    expect(runs[0]).toEqual({ ...recorded, scenarios: [waived, scenario()] });
  });

  test('runs come back oldest first; --last keeps the newest N', async () => {
    const file = freshFile();
    for (const [id, at] of [['b', '2026-01-02'], ['a', '2026-01-01'], ['c', '2026-01-03']] as const) await recordRun(file, run(id, `${at}T00:00:00.000Z`));
    expect((await loadHistory(file)).runs.map((r) => r.runId)).toEqual(['a', 'b', 'c']);
    const last2 = await loadHistory(file, 2);
    expect(last2.runs.map((r) => r.runId)).toEqual(['b', 'c']);
    expect(last2.totalRuns).toBe(3);
  });

  test('recording the same run id again replaces it; a merged run supersedes the shards it combines', async () => {
    const file = freshFile();
    await recordRun(file, run('s1', '2026-01-01T00:00:00.000Z'));
    await recordRun(file, run('s2', '2026-01-01T00:00:01.000Z', [scenario({ scenario: 'token-ttl-expiry' })]));
    await recordRun(file, run('s2', '2026-01-01T00:00:01.000Z', [scenario({ scenario: 'token-ttl-expiry', verdict: 'fail' })]));
    expect((await loadHistory(file)).runs.map((r) => `${r.runId}:${r.scenarios.map((s) => s.verdict).join()}`)).toEqual(['s1:pass', 's2:fail']);
    await recordRun(file, run('merged-s1-s2', '2026-01-01T00:00:00.000Z', [scenario(), scenario({ scenario: 'token-ttl-expiry', verdict: 'fail' })], { source: 'merge', shards: ['s1', 's2'] }));
    const { runs } = await loadHistory(file);
    expect(runs.map((r) => r.runId)).toEqual(['merged-s1-s2']);
    expect(runs[0]!.source).toBe('merge');
    expect(runs[0]!.scenarios).toHaveLength(2);
  });

  test('writers running at once in separate processes lose no run, and leave no lock or temporary file', async () => {
    const file = freshFile();
    const store = pathToFileURL(join(PROJECT_ROOT, 'reports', 'history', 'store.ts')).href;
    const writer = (w: number): Promise<number | null> =>
      new Promise((resolve) => {
        const script = `const { recordRun } = await import(${JSON.stringify(store)});
          const base = ${JSON.stringify(run('x', '2026-01-01T00:00:00.000Z'))};
          for (let i = 0; i < 5; i++) await recordRun(${JSON.stringify(file)}, { ...base, runId: 'w${w}-' + i, startedAt: new Date(Date.UTC(2026, 0, 1, 0, ${w}, i)).toISOString() });`;
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PROJECT_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
        child.on('exit', resolve);
      });
    expect(await Promise.all([1, 2, 3, 4].map(writer))).toEqual([0, 0, 0, 0]);
    const { runs } = await loadHistory(file);
    expect(runs.map((r) => r.runId).sort()).toEqual([1, 2, 3, 4].flatMap((w) => [0, 1, 2, 3, 4].map((i) => `w${w}-${i}`)).sort());
    expect(readdirSync(join(file, '..'))).toEqual(['history.sqlite']);
  }, 60_000);

  test('a lock left by a writer that died is taken over', async () => {
    const file = freshFile();
    await recordRun(file, run('r1', '2026-01-01T00:00:00.000Z'));
    // A pid far above any pid_max: no such process.
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: 2 ** 30, host: hostname(), at: '2026-01-01T00:00:00.000Z' }));
    await recordRun(file, run('r2', '2026-01-02T00:00:00.000Z'), { timeoutMs: 2_000 });
    expect((await loadHistory(file)).runs.map((r) => r.runId)).toEqual(['r1', 'r2']);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  test('a lock held by a live writer makes the next one wait, then give up naming the holder', async () => {
    const file = freshFile();
    await recordRun(file, run('r1', '2026-01-01T00:00:00.000Z'));
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), at: '2026-01-01T00:00:00.000Z' }));
    const started = Date.now();
    await expect(recordRun(file, run('r2', '2026-01-02T00:00:00.000Z'), { timeoutMs: 400 })).rejects.toThrow(`history.sqlite.lock is held by another jitc (pid ${process.pid} on ${hostname()}`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect((await loadHistory(file)).runs.map((r) => r.runId)).toEqual(['r1']);
  });

  test('a file that is not SQLite, another SQLite file or a newer history is refused as bad input and left as it was', async () => {
    const dir = mkdtempSync(join(scratch, 'bad-'));
    const notSqlite = join(dir, 'notes.txt');
    writeFileSync(notSqlite, 'these are my notes, not a database\n'.repeat(200));
    await expect(checkHistoryFile(notSqlite)).rejects.toThrow(InputError);
    await expect(recordRun(notSqlite, run('r1', '2026-01-01T00:00:00.000Z'))).rejects.toThrow(/notes\.txt: not a usable jitc run history \(file is not a database\)/);

    const SQL = await initSqlJs();
    const other = new SQL.Database();
    other.run('CREATE TABLE invoices (id INTEGER)');
    const otherFile = join(dir, 'other.sqlite');
    writeFileSync(otherFile, other.export());
    await expect(checkHistoryFile(otherFile)).rejects.toThrow(/other\.sqlite: a SQLite file, but not a jitc run history \(tables: invoices\)/);

    const newer = new SQL.Database();
    newer.run('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE TABLE runs (run_id TEXT)');
    newer.run("INSERT INTO meta VALUES ('schema', ?)", [String(SCHEMA_VERSION + 1)]);
    const newerFile = join(dir, 'newer.sqlite');
    writeFileSync(newerFile, newer.export());
    await expect(loadHistory(newerFile)).rejects.toThrow(`written by a newer jitc (history schema ${SCHEMA_VERSION + 1}`);

    await expect(checkHistoryFile(dir)).rejects.toThrow(/is a directory/);
    await expect(loadHistory(join(dir, 'missing.sqlite'))).rejects.toThrow(/no run history there/);
  });
});

describe('run history file, break-glass', () => {
  test('a break-glass test reads back as one', async () => {
    const file = freshFile();
    const recorded = run('r1', '2026-01-01T00:00:00.000Z', [scenario({ scenario: 'break-glass-token', breakGlass: true })]);
    await recordRun(file, recorded);
    expect((await loadHistory(file)).runs[0]!.scenarios[0]!.breakGlass).toBe(true);
  });

  test('a history recorded before break-glass scenarios existed is read, its rows routine, and extended', async () => {
    const file = freshFile();
    await recordRun(file, run('r1', '2026-01-01T00:00:00.000Z', [scenario()]));
    const SQL = await initSqlJs();
    const db = new SQL.Database(readFileSync(file));
    db.run('ALTER TABLE scenarios DROP COLUMN break_glass');
    writeFileSync(file, db.export());
    db.close();
    await recordRun(file, run('r2', '2026-01-01T01:00:00.000Z', [scenario({ breakGlass: true })]));
    const { runs } = await loadHistory(file);
    expect(runs.map((r) => r.scenarios[0]!.breakGlass)).toEqual([false, true]);
  });
});
