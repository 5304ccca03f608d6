/**
 * The output directory is jitc's own (README "What a run produces"): a run or merge never deletes,
 * overwrites, reads or seals a file it did not write; one run at a time writes into a directory;
 * the previous outputs are replaced only by sealed new ones; and a run that tested nothing is not
 * conformant. Most cases use `jitc merge` over sealed fake runs (no target needed); the lock and
 * the empty shard are also shown on real runs against the embedded OpenBao.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { writeRunReports } from '../../reports/outputs/artifacts.ts';
import { sealRun } from '../../reports/ledger/ledger.ts';
import type { Manifest } from '../../reports/ledger/manifest.ts';
import { OutputDir } from '../../reports/outputs/out-dir.ts';
import type { Summary } from '../../reports/writers/summary.ts';
import { expectRefused, jitc, jitcAsync, type CliResult } from '../support/cli.ts';
import { sealedResult, sealedRun } from '../support/sealed-run.ts';
import { snapshot } from '../support/dir-snapshot.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-cli-outputs-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string): string => join(scratch, `${name}-${n++}`);
const SCENARIO = ['--suite', 'vault', '--scenario', 'token-revoke-at-task-end'];

const run = (...args: string[]): Promise<CliResult> => jitcAsync(args).done;
const source = (id = 'token-ttl-expiry', runId = `src${n}`): string => sealedRun(fresh('source'), [sealedResult(id, 'pass', runId)], { runId });
const manifestOf = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;

/** A directory a user filled: what `--out` pointed at in the report that found jitc deleting files. */
function usersDirectory(): string {
  const dir = fresh('users');
  mkdirSync(join(dir, 'html'), { recursive: true });
  mkdirSync(join(dir, 'evidence'));
  writeFileSync(join(dir, 'html', 'index.html'), '<html>my own site</html>');
  writeFileSync(join(dir, 'evidence', 'contract.pdf'), '%PDF-1.4 signed contract');
  writeFileSync(join(dir, 'summary.json'), '{"mine": true}');
  writeFileSync(join(dir, 'junit.xml'), '<testsuites name="my other tool"/>');
  return dir;
}

describe.concurrent('jitc writes only into a new or empty directory, or one it wrote before', () => {
  test('a run into a non-empty directory jitc did not write is refused in one line, and every file there stays as it was', async () => {
    const dir = usersDirectory();
    const before = snapshot(dir);
    expectRefused(await run('run', ...SCENARIO, '--out', dir), /--out: .* is not empty and is not a jitc output directory/);
    expectRefused(await run('merge', source(), '--out', dir), /--out: .* is not empty and is not a jitc output directory/);
    expect(snapshot(dir)).toEqual(before);
  });

  test('/, the home directory and the project root are refused as --out', async () => {
    expectRefused(await run('run', ...SCENARIO, '--out', '/'), /--out: \/ is the root of the file system/);
    expectRefused(await run('merge', source(), '--out', homedir()), /is the home directory/);
    expectRefused(await run('run', ...SCENARIO, '--out', PROJECT_ROOT), /is the project root/);
  });

  test('a rerun replaces only what the previous manifest lists: a file of the user beside the outputs stays, unsealed, listed by verify as foreign', async () => {
    const out = fresh('out');
    expect((await run('merge', source('token-ttl-expiry'), '--out', out)).code).toBe(0);
    writeFileSync(join(out, 'notes.txt'), 'my notes');
    mkdirSync(join(out, 'mine'));
    writeFileSync(join(out, 'mine', 'data.csv'), 'a,b\n');
    const again = await run('merge', source('child-token-cascade'), '--out', out);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('my notes');
    expect(readFileSync(join(out, 'mine', 'data.csv'), 'utf8')).toBe('a,b\n');
    expect(existsSync(join(out, 'evidence', 'vault.token-ttl-expiry.json'))).toBe(false);
    const sealed = manifestOf(out).files.map((f) => f.path);
    expect(sealed).toContain('evidence/vault.child-token-cascade.json');
    expect(sealed.filter((p) => p.startsWith('notes') || p.startsWith('mine'))).toEqual([]);
    const verify = await run('verify', out);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.stdout).toMatch(/INTACT\n/);
    expect(verify.stdout).toMatch(/foreign \(not written by jitc, not sealed, never read\): mine \(directory\), notes\.txt \(file\)/);
  });

  test('a file jitc did not write where its outputs go stops the run before anything changes', async () => {
    const out = fresh('out');
    expect((await run('merge', source(), '--out', out)).code).toBe(0);
    writeFileSync(join(out, 'evidence', 'report.pdf'), '%PDF');
    const before = snapshot(out);
    expectRefused(await run('merge', source('child-token-cascade'), '--out', out), /evidence\/report\.pdf is where jitc writes its outputs but was not written by jitc/);
    expect(snapshot(out)).toEqual(before);
  });

  test('a FIFO and a socket beside the outputs: the seal neither hangs nor reads them, and verify lists them as foreign', async () => {
    const out = fresh('out');
    expect((await run('merge', source(), '--out', out)).code).toBe(0);
    execFileSync('mkfifo', [join(out, 'pipe')]);
    const server = createServer().listen(join(out, 'sock'));
    try {
      await new Promise((resolve) => server.once('listening', resolve));
      const again = await run('merge', source('child-token-cascade'), '--out', out);
      expect(again.code, again.stdout + again.stderr).toBe(0);
      expect(manifestOf(out).files.map((f) => f.path)).not.toContain('pipe');
      const verify = await run('verify', out);
      expect(verify.code, verify.stdout).toBe(0);
      expect(verify.stdout).toMatch(/foreign .*: pipe \(FIFO\), sock \(socket\)/);
    } finally {
      server.close();
    }
  });

  test('a FIFO planted among the sealed outputs is tampering, named without being opened', async () => {
    const out = sealedRun(fresh('out'), [sealedResult('token-ttl-expiry', 'pass', 'fifo1')], { runId: 'fifo1' });
    execFileSync('mkfifo', [join(out, 'allure-results', 'planted')]);
    const verify = await run('verify', out);
    expect(verify.code, verify.stdout).toBe(1);
    expect(verify.stdout).toMatch(/allure-results\/planted: added after the run was sealed: a FIFO \(not read, not followed\)/);
  });

  test('--metrics over a file jitc did not write is refused and left as it was; jitc\'s own metrics file is replaced', async () => {
    const foreign = join(fresh('textfile'), 'node.prom');
    mkdirSync(join(foreign, '..'));
    writeFileSync(foreign, '# TYPE node_load1 gauge\nnode_load1 0.5\n# EOF\n');
    const out = fresh('never');
    expectRefused(await run('merge', source(), '--out', out, '--metrics', foreign), /--metrics: .*node\.prom exists and is not jitc's OpenMetrics output/);
    expect(readFileSync(foreign, 'utf8')).toBe('# TYPE node_load1 gauge\nnode_load1 0.5\n# EOF\n');
    expect(existsSync(out)).toBe(false);
    const own = join(foreign, '..', 'jitc.prom');
    expect((await run('merge', source(), '--out', fresh('out'), '--metrics', own)).code).toBe(0);
    const again = await run('merge', source('child-token-cascade'), '--out', fresh('out'), '--metrics', own);
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(own, 'utf8')).toMatch(/scenario="child-token-cascade"/);
  });

  test('a staging directory left by a killed run is never sealed or listed, and is discarded by the next run', async () => {
    const out = sealedRun(fresh('out'), [sealedResult('token-ttl-expiry', 'pass', 'kill1')], { runId: 'kill1' });
    mkdirSync(join(out, '.jitc-staging', 'evidence'), { recursive: true });
    writeFileSync(join(out, '.jitc-staging', 'evidence', 'vault.half.json'), '{"half":');
    const verify = await run('verify', out);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.stdout).not.toMatch(/foreign|jitc-staging/);
    expect((await run('merge', source('child-token-cascade'), '--out', out)).code).toBe(0);
    expect(existsSync(join(out, '.jitc-staging'))).toBe(false);
    // A first run into a new directory killed before its outputs were in place leaves only jitc's own entries.
    const first = fresh('first');
    mkdirSync(join(first, '.jitc-staging'), { recursive: true });
    writeFileSync(join(first, '.jitc-out.lock'), JSON.stringify({ pid: spawnSync('true').pid, runId: 'killed1', command: 'run', startedAt: '2026-01-01T10:00:00.000Z', host: hostname() }));
    const r = await run('merge', source('child-token-cascade'), '--out', first);
    expect(r.code, r.stderr).toBe(0);
    expect((await run('verify', first)).code).toBe(0);
  });
});

describe('the previous outputs are replaced only by sealed new ones', () => {
  test('jitc report builds the HTML beside a verified run and moves it into place: intact, a file of the user left out of the seal', async () => {
    const out = fresh('out');
    expect((await run('merge', source(), '--out', out)).code).toBe(0);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const r = await run('report', '--out', out);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(join(out, 'html', 'index.html'));
    expect(manifestOf(out).files.map((f) => f.path)).toContain('html/index.html');
    expect(manifestOf(out).files.map((f) => f.path)).not.toContain('notes.txt');
    expect((await run('verify', out)).code).toBe(0);
    writeFileSync(join(out, 'summary.json'), '{}');
    const tampered = await run('report', '--out', out);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/summary\.json: edited[\s\S]*no report rebuilt/);
  });

  test('a crash while outputs are moved into place leaves a directory verify calls unsealed, and the next run finishes the move first', async () => {
    const out = sealedRun(fresh('out'), [sealedResult('token-ttl-expiry', 'pass', 'old1')], { runId: 'old1' });
    const next = OutputDir.claim(out, { where: '--out', runId: 'new1', command: 'run', log: () => undefined });
    const results = [sealedResult('child-token-cascade', 'pass', 'new1')];
    mkdirSync(join(next.staging, 'evidence'));
    writeFileSync(join(next.staging, 'evidence', 'vault.child-token-cascade.json'), JSON.stringify(results[0]));
    writeRunReports(next.staging, results, { runId: 'new1', startedAt: '2026-01-01T00:00:00.000Z', waivers: [], gate: [], doubtful: false });
    sealRun(next.staging);
    // Something stops the move half-way (here: a file appears where one of the new outputs goes).
    writeFileSync(join(out, 'evidence', 'vault.child-token-cascade.json'), 'in the way');
    expect(() => next.commit()).toThrow(/exists and jitc did not write it/);
    next.abandon();
    const halfway = await run('verify', out);
    expect(halfway.code, halfway.stdout).toBe(1);
    expect(halfway.stdout).toMatch(/manifest\.json: missing: a run's sealed outputs were being moved into place when it stopped/);
    rmSync(join(out, 'evidence', 'vault.child-token-cascade.json'));
    const finishing = await run('merge', source('token-revoke-at-task-end'), '--out', out);
    expect(finishing.code, finishing.stderr).toBe(0);
    expect(finishing.stderr).toMatch(/were being moved into place when it stopped; finishing that first/);
    const verify = await run('verify', out);
    expect(verify.code, verify.stdout).toBe(0);
    expect(manifestOf(out).files.filter((f) => f.path.startsWith('evidence/')).map((f) => f.path)).toEqual(['evidence/vault.token-revoke-at-task-end.json']);
  });
});

describe.concurrent('one run at a time per output directory', () => {
  const lock = (dir: string, pid: number, runId: string): void =>
    writeFileSync(join(dir, '.jitc-out.lock'), JSON.stringify({ pid, runId, command: 'run', startedAt: '2026-01-01T10:00:00.000Z', host: hostname() }));

  test('a run into a directory a live run holds is refused, naming its pid, run id and start time', async () => {
    const out = sealedRun(fresh('out'), [sealedResult('token-ttl-expiry', 'pass', 'held1')], { runId: 'held1' });
    lock(out, process.pid, 'holder1');
    const before = snapshot(out);
    expectRefused(await run('merge', source(), '--out', out), new RegExp(`is in use by jitc run holder1 \\(pid ${process.pid}, started 2026-01-01T10:00:00\\.000Z\\); one run at a time per output directory`));
    expect(snapshot(out)).toEqual(before);
  });

  test('a stale lock whose process is gone is taken over, saying so', async () => {
    const out = sealedRun(fresh('out'), [sealedResult('token-ttl-expiry', 'pass', 'stale1')], { runId: 'stale1' });
    const gone = spawnSync('true').pid!;
    lock(out, gone, 'ghost1');
    const r = await run('merge', source(), '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`the lock of jitc run ghost1 \\(pid ${gone}, started 2026-01-01T10:00:00\\.000Z\\) is stale \\(that process is gone\\): taken over`));
    expect(existsSync(join(out, '.jitc-out.lock'))).toBe(false);
  });

});

describe('two real runs into one output directory', () => {
  test('while a run writes, a second one is refused naming it, the previous outputs stay intact, and the directory is then sealed as the first run alone', async () => {
    const out = sealedRun(fresh('out'), [sealedResult('token-ttl-expiry', 'pass', 'prev1')], { runId: 'prev1' });
    const first = jitcAsync(['run', ...SCENARIO, '--out', out]);
    while (!existsSync(join(out, '.jitc-out.lock')) && first.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    expect(existsSync(join(out, '.jitc-out.lock')), first.output()).toBe(true);
    const holder = JSON.parse(readFileSync(join(out, '.jitc-out.lock'), 'utf8')) as { pid: number; runId: string };
    expect(holder.pid).toBe(first.child.pid);
    const second = await run('run', ...SCENARIO, '--out', out);
    expectRefused(second, new RegExp(`is in use by jitc run ${holder.runId} \\(pid ${holder.pid}, started [^)]+\\)`));
    const meanwhile = await run('verify', out);
    expect(meanwhile.stdout).toMatch(/INTACT[\s\S]*of run prev1/);
    const done = await first.done;
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(manifestOf(out).runId).toBe(holder.runId);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    expect(summary.scenarios.map((s) => `${s.adapter}/${s.id}`)).toEqual(['vault/token-revoke-at-task-end']);
    expect(readdirSync(join(out, 'allure-results')).some((f) => f.startsWith('prev1'))).toBe(false);
    expect((await run('verify', out)).code).toBe(0);
  }, 120_000);
});

describe.concurrent('a run that tested nothing is not conformant', () => {
  test('a run without --shard in which no scenario would run exits 2 with one line saying so, nothing written', async () => {
    const out = fresh('never');
    expectRefused(await run('run', '--suite', ',', '--out', out), /nothing to run: no scenario matches/);
    expect(existsSync(out)).toBe(false);
  });

  test('summary.json of a run without results says exit 2; of an empty shard, exit 0', () => {
    const dir = fresh('reports');
    mkdirSync(dir);
    expect(writeRunReports(dir, [], { runId: 'e1', startedAt: '2026-01-01T00:00:00.000Z', waivers: [], gate: [], doubtful: false }).exitCode).toBe(2);
    const shard = { index: 2, count: 2, planned: [], plan: '0'.repeat(64) };
    expect(writeRunReports(dir, [], { runId: 'e2', startedAt: '2026-01-01T00:00:00.000Z', waivers: [], gate: [], doubtful: false, shard }).exitCode).toBe(0);
  });

  test('a shard with nothing to do exits 0 saying "shard i/n: nothing to run", and its empty result merges with the other shard', () => {
    const shards = [1, 2].map((i) => ({ dir: fresh(`shard-${i}`), r: jitc(['run', ...SCENARIO, '--shard', `${i}/2`, '--out', join(scratch, `real-shard-${i}`)]) }));
    const empty = shards.find((s) => /shard \d\/2: nothing to run/.test(s.r.stdout));
    const full = shards.find((s) => s !== empty);
    expect(empty?.r.code, empty?.r.stdout).toBe(0);
    expect(full?.r.stdout).toMatch(/jitc CONFORMANT: 1 pass/);
    const dirs = [1, 2].map((i) => join(scratch, `real-shard-${i}`));
    const merged = jitc(['merge', ...dirs, '--out', fresh('merged')]);
    expect(merged.code, merged.stdout + merged.stderr).toBe(0);
    expect(merged.stdout).toMatch(/jitc CONFORMANT: 1 pass, 0 fail/);
    const emptyDir = dirs[shards.indexOf(empty!)]!;
    expectRefused(jitc(['merge', emptyDir, '--out', fresh('never')]), /shard \d\/2 of plan sha256:[0-9a-f]{12}… is missing/);
  }, 120_000);
});
