/**
 * Ctrl-C (SIGINT) and SIGTERM while every adapter waits for an expiry: jitc tears down what it
 * created against the still-running targets, then stops the servers it started, and exits 2
 * (an interrupted run proves nothing). Proven on the targets themselves: on its own local servers
 * (gone, with their pid records and work directories) and on external targets that outlive the
 * run (Vault, AWS and a directory the test started: nothing of the run is left on them).
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isOurProcess } from '../../adapters/local-process.ts';
import type { Summary } from '../../reports/writers/summary.ts';
import { jitcAsync, type CliResult } from '../support/cli.ts';
import { EXTERNAL, LOCAL_SERVERS, writeLongWaitScenarios, type LongWaitScenario } from '../support/long-waits.ts';
import { startOwnTargets, type OwnTargets } from '../support/own-targets.ts';
import { leftoversOf } from '../support/residue.ts';
import { runIdIn, serversOfRun } from '../support/run-servers.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-signals-'));
/** Long enough that a loaded machine still signals inside every wait, short enough to be cheap. */
const WAIT_SECONDS = 60;

let own: OwnTargets;
let long: LongWaitScenario[];

beforeAll(async () => {
  own = await startOwnTargets(scratch);
  long = await writeLongWaitScenarios(scratch, WAIT_SECONDS);
}, 120_000);

afterAll(async () => {
  await own?.stop();
});

interface Interrupted {
  runId: string;
  result: CliResult;
  summary: Summary;
  servers: ReturnType<typeof serversOfRun>;
}

const externalWaits = (): LongWaitScenario[] => long.filter((s) => EXTERNAL.includes(s.adapter));

/** Start a run, wait until each long scenario given is waiting for its expiry, then signal it (`times` times, each once jitc has answered). */
async function interrupt(signal: NodeJS.Signals, name: string, args: string[], waits: LongWaitScenario[], env: NodeJS.ProcessEnv = {}, times = 1): Promise<Interrupted> {
  const out = join(scratch, name);
  const run = jitcAsync(['run', ...args, ...waits.flatMap((s) => ['--scenario-file', s.file]), '--out', out, '--history', join(scratch, 'history.sqlite')], env);
  for (const scenario of waits) await expect.poll(run.output, { timeout: 120_000, interval: 100 }).toMatch(scenario.waitingLine);
  const runId = runIdIn(run.output());
  if (!runId) throw new Error(`no run id in: ${run.output()}`);
  const servers = serversOfRun(runId);
  run.child.kill(signal);
  if (times === 2) {
    await expect.poll(run.output, { timeout: 30_000, interval: 10 }).toMatch(new RegExp(`${signal}: ending the scenarios`));
    run.child.kill(signal);
  }
  const result = await run.done;
  const summary = existsSync(join(out, 'summary.json')) ? (JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary) : undefined;
  return { runId, result, servers, summary: summary as Summary };
}

/** The built-in zero-standing-privilege scenarios (vault, ldap) and one long wait per adapter. */

const localSelection = (): string[] => ['--scenario', ['zero-standing-privilege', ...long.map((s) => s.id)].join(',')];

/** What every interrupted run must show, whatever its targets. */
function expectTornDown({ result, summary }: Interrupted, signal: NodeJS.Signals, waits: LongWaitScenario[]): void {
  expect(result.code, result.stdout + result.stderr).toBe(2);
  expect(result.stdout).toMatch(new RegExp(`interrupted by ${signal}: targets stopped, created objects removed`));
  expect(result.stderr).toMatch(new RegExp(`${signal}: ending the scenarios`));
  expect(summary.doubtful).toBe(true);
  for (const scenario of waits) {
    const s = summary.scenarios.find((r) => r.adapter === scenario.adapter && r.id === scenario.id);
    expect(s, `${scenario.adapter}/${scenario.id} in summary.json`).toBeDefined();
    // Interrupted in its wait: nothing was proven, and what it created was removed, without error.
    expect(s!.verdict).toBe('inconclusive');
    expect(s!.teardown.errors).toEqual([]);
    expect(s!.teardown.removed.length, JSON.stringify(s!.teardown)).toBeGreaterThan(0);
  }
}

describe.each(['SIGINT', 'SIGTERM'] as const)('%s while every adapter waits for an expiry', (signal) => {
  test('on its own local targets: created objects torn down, every server it started stopped, nothing left to clean up', async () => {
    const run = await interrupt(signal, `local-${signal}`, localSelection(), long);
    expectTornDown(run, signal, long);
    // One server per adapter, started by this run, recorded by pid — and all of them gone now.
    expect(run.servers.map((s) => s.name).sort()).toEqual(LOCAL_SERVERS);
    for (const server of run.servers) {
      expect(isOurProcess(server), `${server.name} pid ${server.pid}`).toBe(false);
      expect(existsSync(server.workDir), server.workDir).toBe(false);
    }
    expect(serversOfRun(run.runId)).toEqual([]);
    const sweep = await jitcAsync(['cleanup', '--run', run.runId]).done;
    expect(sweep.code, sweep.stderr).toBe(0);
    expect(sweep.stdout.trim()).toBe(`nothing left by run ${run.runId}`);
  }, 180_000);

  test('on external targets that outlive the run: nothing of the run is left on Vault, AWS or the directory', async () => {
    // Every built-in scenario runs beside the long waits, so the signal also lands mid-setup, mid-use and mid-teardown.
    const run = await interrupt(signal, `external-${signal}`, ['--suite', EXTERNAL.join(','), '--target', 'external', '--config', own.configFile], externalWaits(), own.env);
    expectTornDown(run, signal, externalWaits());
    expect(run.servers).toEqual([]);
    expect(await leftoversOf(own.connections, run.runId)).toEqual({ vault: [], aws: [], ldap: [] });
    const sweep = await jitcAsync(['cleanup', '--run', run.runId, '--target', 'external', '--suite', EXTERNAL.join(','), '--config', own.configFile], own.env).done;
    expect(sweep.code, sweep.stdout + sweep.stderr).toBe(0);
    expect(sweep.stdout.trim()).toBe(`nothing left by run ${run.runId}`);
  }, 180_000);

  test('pressed twice on its own local targets: jitc stops every server it started at once, and exits 2', async () => {
    const run = await interrupt(signal, `local-twice-${signal}`, localSelection(), long, {}, 2);
    expect(run.result.code, run.result.stdout + run.result.stderr).toBe(2);
    expect(run.result.stderr).toMatch(new RegExp(`${signal} again: stopping the targets now`));
    expect(run.servers.map((s) => s.name).sort()).toEqual(LOCAL_SERVERS);
    for (const server of run.servers) {
      expect(isOurProcess(server), `${server.name} pid ${server.pid}`).toBe(false);
      expect(existsSync(server.workDir), server.workDir).toBe(false);
    }
    expect(serversOfRun(run.runId)).toEqual([]);
  }, 180_000);
});
