/**
 * `jitc run` killed outright (SIGKILL: no handler, no teardown) while every adapter waits for an
 * expiry. Its local servers die with it within seconds: each runs under a watchdog that stops it
 * when jitc's end of a pipe closes. Were the watchdogs killed too, the next `jitc run` stops the
 * servers left, by the pids recorded, and says so. `jitc cleanup --run ID` removes every object the
 * run created on targets that outlive it — Vault tokens, policies, secrets and AppRole roles; IAM
 * users, keys, roles, groups, policies and S3 buckets; directory entries and member values — and
 * says what it removed. Afterwards the targets' own listings by the run-id prefix are empty, and a
 * second cleanup finds nothing.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isOurProcess, runStateDir, type PidRecord } from '../../adapters/local-process.ts';
import { jitcAsync } from '../support/cli.ts';
import { EXTERNAL, LOCAL_SERVERS, writeLongWaitScenarios, type LongWaitScenario } from '../support/long-waits.ts';
import { startOwnTargets, type OwnTargets } from '../support/own-targets.ts';
import { leftoversOf } from '../support/residue.ts';
import { runIdIn, serversOfRun } from '../support/run-servers.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-kill-'));
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


/** Start a run, wait until each adapter's long scenario (of `only`, when given) waits for its expiry, and SIGKILL it. */
async function killMidRun(name: string, args: string[], env: NodeJS.ProcessEnv = {}, beforeKill?: (runId: string) => Promise<void>, only?: string[]): Promise<string> {
  const waits = only ? long.filter((s) => only.includes(s.adapter)) : long;
  // One long wait per adapter beside the scenarios asked for (files and built-ins alike are selected by --scenario).
  const scenario = args.indexOf('--scenario');
  if (scenario >= 0) args = args.map((a, i) => (i === scenario + 1 ? [a, ...waits.map((s) => s.id)].join(',') : a));
  const run = jitcAsync(['run', ...args, ...waits.flatMap((s) => ['--scenario-file', s.file]), '--out', join(scratch, name), '--history', join(scratch, 'history.sqlite')], env);
  for (const scenario of waits) await expect.poll(run.output, { timeout: 120_000, interval: 100 }).toMatch(scenario.waitingLine);
  const runId = runIdIn(run.output());
  if (!runId) throw new Error(`no run id in: ${run.output()}`);
  await beforeKill?.(runId);
  run.child.kill('SIGKILL');
  const result = await run.done;
  expect(result.code).toBe(null);
  return runId;
}

describe('jitc run killed with SIGKILL', () => {
  test('its local servers (bao, keycloak, moto_server, postgres, slapd, sshd) die with it within seconds, leaving no pid record or work directory; cleanup finds nothing', async () => {
    let servers: PidRecord[] = [];
    const runId = await killMidRun('local', ['--scenario', 'zero-standing-privilege'], {}, async (live) => {
      // While the run is alive its servers are in use, not left over: cleanup leaves them alone.
      const early = await jitcAsync(['cleanup', '--run', live]).done;
      expect(early.code, early.stdout + early.stderr).toBe(0);
      servers = serversOfRun(live);
      expect(early.stdout.trim().split('\n').slice(0, -1).sort()).toEqual(servers.map((s) => `left running: server ${s.name} pid ${s.pid} (run ${live}, whose jitc process ${s.owner} is still running)`).sort());
      for (const server of servers) expect(isOurProcess(server), `${server.name} pid ${server.pid}`).toBe(true);
    });
    expect(servers.map((s) => s.name).sort()).toEqual(LOCAL_SERVERS);
    const killedAt = Date.now();
    await expect.poll(() => servers.filter((s) => isOurProcess(s)).map((s) => s.name), { timeout: 10_000, interval: 50 }).toEqual([]);
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    await expect.poll(() => serversOfRun(runId), { timeout: 5_000, interval: 50 }).toEqual([]);
    for (const server of servers) expect(existsSync(server.workDir), server.workDir).toBe(false);
    // The last watchdog removes its record, then the emptied directory: a read between the two sees
    // no record and the directory still there.
    await expect.poll(() => existsSync(runStateDir(PROJECT_ROOT, runId)), { timeout: 5_000, interval: 50 }).toBe(false);

    const sweep = await jitcAsync(['cleanup', '--run', runId]).done;
    expect(sweep.code, sweep.stdout + sweep.stderr).toBe(0);
    expect(sweep.stdout.trim()).toBe(`nothing left by run ${runId}`);
  }, 180_000);

  test('killed together with its watchdogs, its servers are stopped by the next jitc run, which says so', async () => {
    let servers: PidRecord[] = [];
    const runId = await killMidRun('local-watchdogs', ['--scenario', 'zero-standing-privilege'], {}, async (live) => {
      servers = serversOfRun(live);
      // The watchdogs first: nothing is left to stop the servers when jitc dies.
      for (const server of servers) process.kill(server.watchdog!, 'SIGKILL');
    });
    expect(servers.map((s) => s.name).sort()).toEqual(LOCAL_SERVERS);
    // They outlive the kill without their watchdogs. (This file runs alone, see vitest.config.ts: a
    // jitc run of another file would sweep them first.)
    await new Promise((r) => setTimeout(r, 1000));
    for (const server of servers) expect(isOurProcess(server), `${server.name} pid ${server.pid} left by the kill`).toBe(true);

    const next = await jitcAsync(['run', '--suite', 'vault', '--scenario', 'zero-standing-privilege', '--out', join(scratch, 'next-run')]).done;
    expect(next.code, next.stdout + next.stderr).toBe(0);
    const said = next.stderr.split('\n').filter((l) => l.startsWith('stopped a server a killed run left: '));
    for (const server of servers) {
      expect(said, next.stderr).toContain(`stopped a server a killed run left: ${server.name} pid ${server.pid} (run ${runId})`);
      expect(isOurProcess(server), `${server.name} pid ${server.pid}`).toBe(false);
      expect(existsSync(server.workDir), server.workDir).toBe(false);
    }
    expect(serversOfRun(runId)).toEqual([]);
  }, 240_000);

  test('removes every object the killed run left on external Vault, AWS and directory targets, and they list none afterwards', async () => {
    // All built-in scenarios beside the long waits: the kill lands on objects in every stage of their lives.
    const runId = await killMidRun('external', ['--suite', EXTERNAL.join(','), '--target', 'external', '--config', own.configFile], own.env, undefined, EXTERNAL);
    expect(serversOfRun(runId)).toEqual([]);
    const residue = (): Promise<Record<string, string[]>> => leftoversOf(own.connections, runId);
    const left = await residue();
    // The kill left something on every target, or this test would prove nothing about the sweep.
    for (const [adapter, items] of Object.entries(left)) expect(items.filter((i) => i.includes(`jitc-${runId}-long-`)).length, `${adapter} residue after the kill`).toBeGreaterThan(0);

    const sweep = await jitcAsync(['cleanup', '--run', runId, '--target', 'external', '--suite', EXTERNAL.join(','), '--config', own.configFile], own.env).done;
    expect(sweep.code, sweep.stdout + sweep.stderr).toBe(0);
    expect(sweep.stdout).not.toMatch(/could not remove/);
    const removed = sweep.stdout.trim().split('\n');
    // Each leftover of the long waits is named in cleanup's report of what it removed from that target.
    // (Leftovers of the built-in scenarios with a 3 s TTL may expire by themselves before the sweep.)
    const addresses: Record<string, string> = { vault: own.vault.address, aws: own.aws.connection.address, ldap: own.ldap.connection.address };
    for (const [adapter, items] of Object.entries(left)) {
      const heading = `removed from ${adapter} at ${addresses[adapter]}: `;
      const fromAdapter = removed.filter((l) => l.startsWith(heading)).map((l) => l.slice(heading.length));
      expect(fromAdapter.length, `${adapter}: ${sweep.stdout}`).toBeGreaterThan(0);
      for (const item of items.filter((i) => i.includes(`jitc-${runId}-long-`))) expect(fromAdapter, `${adapter}: ${item}`).toContain(item);
    }
    expect(removed.at(-1)).toMatch(/^\d+ items handled$/);
    // Vault's sweep comes before the directory's: unmounting its LDAP engine deletes the accounts its
    // leases made, which fails when the directory's sweep removed them first.
    const firstFrom = (adapter: string): number => removed.findIndex((l) => l.startsWith(`removed from ${adapter} at `));
    expect(firstFrom('vault'), sweep.stdout).toBeLessThan(firstFrom('ldap'));

    expect(await residue()).toEqual({ vault: [], aws: [], ldap: [] });
    const again = await jitcAsync(['cleanup', '--run', runId, '--target', 'external', '--suite', EXTERNAL.join(','), '--config', own.configFile], own.env).done;
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(`nothing left by run ${runId}`);
  }, 180_000);
});
