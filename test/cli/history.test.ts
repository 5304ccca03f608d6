/**
 * Three consecutive `jitc run`s of one scenario show up as a trend in both places a user looks:
 * `jitc history` (verdict sequence, p50/p95, repeated elevation) and the Allure report built in
 * the same output directory (status dynamics over the runs, the scenario's own history).
 * Also: the config file names the history, a merge supersedes what it merges, bad input exits 2.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { recordRun } from '../../reports/history/store.ts';
import type { HistoryTrends } from '../../reports/history/trends.ts';
import { JITC, jitc, type CliResult } from '../support/cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-cli-history-'));
const historyFile = join(scratch, 'history.sqlite');
const out = join(scratch, 'out');
const SCENARIO = 'token-revoke-at-task-end';

const runIdOf = (r: CliResult): string => /\(run (\w+), exit \d\)/.exec(r.stdout)?.[1] ?? '';
const historyJson = (...args: string[]): HistoryTrends & { file: string } => {
  const r = jitc(['history', '--json', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as HistoryTrends & { file: string };
};

describe('three consecutive runs into one history and one output directory', () => {
  const runs: CliResult[] = [];
  beforeAll(() => {
    for (let i = 0; i < 3; i++) runs.push(jitc(['run', '--suite', 'vault', '--scenario', SCENARIO, '--history', historyFile, '--out', out, '--html']));
  }, 240_000);

  test('each run passes and says where it was recorded', () => {
    for (const r of runs) {
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stderr).toContain(`history: run ${runIdOf(r)} recorded in ${historyFile}`);
    }
    expect(new Set(runs.map(runIdOf)).size).toBe(3);
  });

  test('jitc history shows the scenario as one series of three passes with p50/p95', () => {
    const trends = historyJson('--history', historyFile);
    expect(trends).toMatchObject({ file: historyFile, runsConsidered: 3, totalRuns: 3, flaky: [] });
    expect(trends.runs.map((r) => r.runId)).toEqual(runs.map(runIdOf));
    expect(trends.scenarios).toHaveLength(1);
    const [series] = trends.scenarios;
    expect(series).toMatchObject({ adapter: 'vault', scenario: SCENARIO, targetKey: 'local OpenBao', changes: 0 });
    expect(series!.verdicts.map((v) => `${v.runId}:${v.verdict}`)).toEqual(runs.map((r) => `${runIdOf(r)}:pass`));
    const latency = series!.revocationLatencyMs;
    expect(latency.samples).toBe(3);
    expect(latency.p50!).toBeGreaterThanOrEqual(0);
    expect(latency.p95!).toBeGreaterThanOrEqual(latency.p50!);
    expect(series!.sessionOutlivedTtlMs).toEqual({ p50: 0, p95: 0, samples: 3 });
  });

  test('the same identity elevated in all three runs is reported as a repeated elevation', () => {
    const { repeatedElevations } = historyJson('--history', historyFile);
    expect(repeatedElevations).toEqual([
      expect.objectContaining({ identity: `vault local OpenBao scenario ${SCENARIO}`, elevations: 3, runsConsidered: 3, scenarios: [SCENARIO] }),
    ]);
  });

  test('the text view shows the verdict sequence, the runs and the sections', () => {
    const r = jitc(['history', '--history', historyFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^vault/${SCENARIO}\\s+local OpenBao\\s+3\\s+PPP\\s+\\d+ ms / \\d+ ms\\s+0 ms / 0 ms`, 'm'));
    for (const id of runs.map(runIdOf)) expect(r.stdout).toMatch(new RegExp(`^${id}\\s+\\S+\\s+0\\s+1\\s+0`, 'm'));
    expect(r.stdout).toMatch(/^Flaky: verdict changed between runs on the same target\n {2}none$/m);
    expect(r.stdout).toContain(`vault local OpenBao scenario ${SCENARIO}: elevated in 3 of 3 runs`);
  });

  test('--last 2 keeps the two newest runs', () => {
    const trends = historyJson('--history', historyFile, '--last', '2');
    expect(trends.runs.map((r) => r.runId)).toEqual(runs.slice(1).map(runIdOf));
    expect(trends.totalRuns).toBe(3);
  });

  test('the Allure report shows the three runs as a trend, and the scenario with its two earlier results', () => {
    expect(readFileSync(join(out, 'history', 'allure-history.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    type Chart = { type: string; data: { name: string; statistic: { passed?: number } }[] };
    const charts = JSON.parse(readFileSync(join(out, 'html', 'widgets', 'charts.json'), 'utf8')) as { general: Record<string, Chart> };
    const dynamics = Object.values(charts.general).find((c) => c.type === 'statusDynamics');
    expect(dynamics?.data.map((d) => d.name)).toEqual([`jitc run ${runIdOf(runs[0]!)}`, `jitc run ${runIdOf(runs[1]!)}`, 'current']);
    expect(dynamics?.data.map((d) => d.statistic.passed)).toEqual([1, 1, 1]);
    const dir = join(out, 'html', 'data', 'test-results');
    const tests = readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { name: string; history?: { status: string }[] });
    const scenario = tests.find((t) => t.name === SCENARIO);
    expect(scenario?.history?.map((h) => h.status)).toEqual(['passed', 'passed']);
  });

  test('the config file history: names the file for jitc history', () => {
    const config = join(scratch, 'jitc.yaml');
    writeFileSync(config, `history: ${historyFile}\n`);
    expect(historyJson('--config', config).runs.map((r) => r.runId)).toEqual(runs.map(runIdOf));
  });

  test('jitc merge records the merged run in place of the run it merges', () => {
    const r = jitc(['merge', out, '--out', join(scratch, 'merged'), '--history', historyFile]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const trends = historyJson('--history', historyFile);
    expect(trends.runs.map((x) => `${x.runId}:${x.source}`)).toEqual([...runs.slice(0, 2).map((x) => `${runIdOf(x)}:run`), `${runIdOf(runs[2]!)}:merge`]);
  });
});

describe('jitc history on a long history', () => {
  test('prints the whole JSON even when it is larger than a pipe takes at once', async () => {
    const file = join(scratch, 'long.sqlite');
    const scenarios = Array.from({ length: 10 }, (_, i) => ({
      adapter: 'vault', scenario: `scenario-${i}`, title: `scenario ${i}`, targetMode: 'local', targetAddress: 'http://127.0.0.1:1', targetKey: 'local OpenBao',
      identity: `vault local OpenBao scenario scenario-${i}`, verdict: 'pass' as const, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z',
      elevated: true, ttlSeconds: 30, ttlRequestedSeconds: 30, windowSeconds: 30, revocationLatencyMs: i, sessionOutlivedTtlMs: 0, privilegeWidth: 1, residue: 0,
      waiverId: null, waiverExpires: null, breakGlass: false, checks: [],
    }));
    for (let r = 0; r < 60; r++) {
      const startedAt = new Date(Date.UTC(2026, 0, 1, r)).toISOString();
      await recordRun(file, { runId: `run${r}`, startedAt, finishedAt: startedAt, source: 'run', exitCode: 0, doubtful: false, totals: { pass: 10, fail: 0, inconclusive: 0, waived: 0 }, shards: [], scenarios });
    }
    // A reader that starts late, as a pager or a slow CI log collector does: the pipe fills up.
    const r = spawnSync('sh', ['-c', `"$0" history --json --history "$1" --last 60 | (sleep 1; cat)`, JITC, file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(128 * 1024);
    const trends = JSON.parse(r.stdout) as HistoryTrends;
    expect(trends.runs).toHaveLength(60);
    expect(trends.scenarios.every((s) => s.verdicts.length === 60)).toBe(true);
  }, 60_000);
});

describe('jitc history: bad input is one line and exit 2', () => {
  const notSqlite = join(scratch, 'notes.txt');
  writeFileSync(notSqlite, 'not a database\n'.repeat(100));
  const empty = join(scratch, 'empty.sqlite');
  writeFileSync(empty, '');
  const fifo = join(scratch, 'pipe.sqlite');
  execFileSync('mkfifo', [fifo]);
  const cases: [string, string[], RegExp][] = [
    ['--last 0', ['history', '--history', historyFile, '--last', '0'], /--last needs a whole number of at least 1, got "0"/],
    ['--last abc', ['history', '--last', 'abc'], /--last needs a whole number/],
    ['a missing file', ['history', '--history', join(scratch, 'missing.sqlite')], /missing\.sqlite: no run history there/],
    ['a file that is not SQLite', ['history', '--history', notSqlite], /notes\.txt: not a usable jitc run history/],
    ['run into a file that is not SQLite', ['run', '--suite', 'vault', '--scenario', SCENARIO, '--out', join(scratch, 'never'), '--history', notSqlite], /notes\.txt: not a usable jitc run history/],
    ['run into an empty file jitc did not write', ['run', '--suite', 'vault', '--scenario', SCENARIO, '--out', join(scratch, 'never'), '--history', empty], /empty\.sqlite: exists but is not a jitc run history \(an empty file\); jitc never overwrites a file it did not write/],
    ['run into a FIFO, which is never opened', ['run', '--suite', 'vault', '--scenario', SCENARIO, '--out', join(scratch, 'never'), '--history', fifo], /pipe\.sqlite: is not a regular file/],
  ];
  test.each(cases)('%s', (_name, args, message) => {
    const r = jitc(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(readdirSync(scratch)).not.toContain('never');
    expect(readFileSync(empty, 'utf8')).toBe('');
  });
});
