/**
 * Ctrl-C at every moment of a run, once and twice, sent as a terminal sends it: to jitc's whole
 * foreground process group. Whenever it lands — during the install of the local targets, while
 * they start, while the scenarios wait, while the reports are written — every server the run
 * started is stopped, by the pid it was started with, and jitc exits. An install step under way
 * is never signalled: it finishes in its own process group, and no later step starts.
 * (The waits themselves, with teardown on the targets, are test/cli/signals.test.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { isOurProcess, type PidRecord } from '../../adapters/local-process.ts';
import type { Summary } from '../../reports/writers/summary.ts';
import { jitc, JITC } from '../support/cli.ts';
import { serversStartedBy } from '../support/run-servers.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-signal-moments-'));

// An install step left to finish in its own process group may still be writing its venv: retry.
afterAll(() => rmSync(scratch, { recursive: true, force: true, maxRetries: 20, retryDelay: 500 }));

interface GroupRun {
  child: ChildProcess;
  output: () => string;
  /** Every server record this run wrote, collected while it ran (records vanish as servers stop). */
  servers: Map<string, PidRecord>;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Ctrl-C in the terminal: SIGINT to the whole foreground process group. */
  ctrlC(): void;
}

/** jitc as the foreground job of a terminal: its own process group, which a Ctrl-C signals whole. */
function runInTerminal(args: string[], bin = JITC, cwd = PROJECT_ROOT): GroupRun {
  const child = spawn(bin, args, { cwd, detached: true, env: { ...process.env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const servers = new Map<string, PidRecord>();
  const collect = setInterval(() => {
    for (const record of serversStartedBy(child.pid!)) servers.set(`${record.name}/${record.pid}`, record);
  }, 20);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => {
      clearInterval(collect);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, output: () => stdout + stderr, servers, done, ctrlC: () => process.kill(-child.pid!, 'SIGINT') };
}

/** No server the run started is still running, and none of its pid records or work directories is left. */
async function expectAllStopped(run: GroupRun, root = PROJECT_ROOT): Promise<void> {
  const servers = [...run.servers.values()];
  for (const server of servers) {
    expect(isOurProcess(server), `${server.name} pid ${server.pid} still running`).toBe(false);
    expect(existsSync(server.workDir), server.workDir).toBe(false);
  }
  expect(serversStartedBy(run.child.pid!)).toEqual([]);
  if (root !== PROJECT_ROOT) expect(existsSync(join(root, '.targets', 'run')) ? readdirSync(join(root, '.targets', 'run')) : []).toEqual([]);
}

const untilServers = (run: GroupRun, count: number) => expect.poll(() => run.servers.size, { timeout: 60_000, interval: 20 }).toBeGreaterThanOrEqual(count);

describe.each([1, 2])('Ctrl-C pressed %i time(s)', (presses) => {
  const press = async (run: GroupRun): Promise<void> => {
    run.ctrlC();
    if (presses === 2) {
      // Pressed again once jitc has answered the first: two signals pending at once would be one.
      await expect.poll(run.output, { timeout: 30_000, interval: 10 }).toMatch(/SIGINT: /);
      run.ctrlC();
    }
  };

  test('while the local targets start: every server started or starting is stopped', async () => {
    const out = join(scratch, `starting-${presses}`);
    const run = runInTerminal(['run', '--scenario', 'zero-standing-privilege', '--out', out, '--history', join(scratch, 'history.sqlite')]);
    // The first server is up while the others still start: the moment the old second Ctrl-C left them all running.
    await untilServers(run, 1);
    expect(run.output()).not.toMatch(/jitc run [a-z0-9]+: /);
    await press(run);
    const result = await run.done;
    expect(result.code, result.stdout + result.stderr).toBe(2);
    expect(result.stderr).toMatch(/SIGINT: stopping the targets being started/);
    if (presses === 2) expect(result.stderr).toMatch(/SIGINT again: stopping the targets now/);
    await expectAllStopped(run);
    if (presses === 1) {
      // Nothing ran: every planned scenario is inconclusive, saying why.
      const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
      expect(summary.scenarios.map((s) => s.verdict)).toEqual(summary.scenarios.map(() => 'inconclusive'));
      expect(summary.scenarios.length).toBeGreaterThan(0);
    }
  }, 120_000);

  test('while the reports are written: the targets are already stopped, and one press lets the sealed reports finish', async () => {
    const out = join(scratch, `reporting-${presses}`);
    const run = runInTerminal(['run', '--suite', 'vault', '--scenario', 'zero-standing-privilege', '--html', '--out', out, '--history', join(scratch, 'history.sqlite')]);
    await untilServers(run, 1);
    await expect.poll(run.output, { timeout: 120_000, interval: 10 }).toMatch(/targets stopped; writing the reports/);
    expect(run.child.exitCode, run.output()).toBe(null);
    await press(run);
    const result = await run.done;
    await expectAllStopped(run);
    if (presses === 1) {
      expect(result.stderr).toMatch(/SIGINT: the targets are already stopped; finishing the reports/);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toMatch(/jitc CONFORMANT: 1 pass/);
      const verify = jitc(['verify', out]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    } else {
      expect(result.code, result.stdout + result.stderr).toBe(2);
    }
  }, 180_000);

  test('during the install of the local targets: the install step under way is not signalled and finishes; nothing starts after it', async () => {
    // A copy of the project without installed targets: its first run installs them.
    const project = join(scratch, `project-${presses}`);
    const skip = new Set(['node_modules', '.git', '.targets', '.jitc', 'reports/out']);
    cpSync(PROJECT_ROOT, project, { recursive: true, filter: (source) => !skip.has(relative(PROJECT_ROOT, source)) });
    // The compiled command line was copied with the very sources it was built from: marked current,
    // the copy starts at once instead of compiling first (the press must land in the install, not a build).
    const built = join(project, 'dist', '.built');
    if (existsSync(built)) utimesSync(built, new Date(), new Date());
    symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(project, 'node_modules'));
    const venv = join(project, '.targets', 'venv');
    const run = runInTerminal(['run', '--suite', 'vault', '--out', join(scratch, `install-${presses}`), '--history', join(scratch, 'history.sqlite')], join(project, 'bin', 'jitc'), project);
    // Creating the venv takes seconds: the press lands while it runs.
    await expect.poll(run.output, { timeout: 60_000, interval: 20 }).toMatch(/creating .*venv with /);
    await press(run);
    const result = await run.done;
    expect(result.code, result.stdout + result.stderr).toBe(2);
    // The venv step ran to its end (a signalled one leaves no pip behind) and the next step never began.
    await expect.poll(() => existsSync(join(venv, 'bin', 'pip')), { timeout: 150_000, interval: 100 }).toBe(true);
    expect(result.stderr).not.toMatch(/installing openbao/);
    expect(readFileSync(join(project, '.targets', 'install.log'), 'utf8')).not.toMatch(/KeyboardInterrupt|Traceback/);
    if (presses === 1) expect(result.stderr).toMatch(/SIGINT: stopping the targets being started once the install under way \(.*venv.*\) finishes/);
    else expect(result.stderr).toMatch(/SIGINT again: stopping the targets now; the install under way \(.*venv.*\) finishes by itself in its own process group/);
    await expectAllStopped(run, project);
    expect(run.servers.size).toBe(0);
  }, 300_000);
});
