/**
 * What a user's broker made on the target for a task, and whether it outlived the end: the
 * reference AWS broker, broken to keep its role, run against a real moto_server with the rest of
 * the scenario passing; and each target's own look-up of a named object, on the real servers.
 */
import { describe, expect, test } from 'vitest';
import { loadSetups, runOnLocalTarget } from '../assurance/matrix-run.ts';

describe('a broker that ends the session but keeps the role it made', () => {
  test('is reported fail on no-residue alone, naming the role', async () => {
    const setup = (await loadSetups('aws', ['mutant'])).find((s) => s.scenario.id === 'broker-exec-role-keeps-role');
    if (!setup) return expect.unreachable('the mutant broker-exec-role-keeps-role is not in test/mutants/aws');
    const run = await runOnLocalTarget('aws', [setup]);
    const [result] = run.results;
    const summary = (result?.checks ?? []).map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');
    expect(run.rows[0]?.outcome, summary).toBe('caught');
    expect(run.rows[0]?.failedChecks, summary).toEqual(['no-residue']);
    expect(result?.checks.find((c) => c.name === 'no-residue')?.detail).toMatch(/broker-made arn:aws:iam::\d+:role\/jitc-.*broker-role/);
    // The role is the broker's to delete: jitc only asked it to end, so the run's sweep finds it.
    expect(run.keptByBrokers.removed.some((r) => /broker-role/.test(r)), JSON.stringify(run.keptByBrokers)).toBe(true);
    expect(run.leftovers).toEqual({ removed: [], failed: [] });
  }, 180_000);
});

describe('a broker whose grant is left to expire, and whose end only teardown asks for', () => {
  test('keeping its role is still reported fail on no-residue, from the look-up after that end', async () => {
    const setup = (await loadSetups('aws', ['mutant'])).find((s) => s.scenario.id === 'broker-exec-role-keeps-role');
    if (!setup) return expect.unreachable('the mutant broker-exec-role-keeps-role is not in test/mutants/aws');
    const scenario = { ...setup.scenario, id: 'broker-exec-role-keeps-role-expiring', end: { mode: 'expire' as const, graceSeconds: 1 } };
    const run = await runOnLocalTarget('aws', [{ ...setup, scenario }]);
    const [result] = run.results;
    const residue = result?.checks.find((c) => c.name === 'no-residue');
    expect(residue?.verdict, JSON.stringify(result?.checks)).toBe('fail');
    expect(residue?.detail).toMatch(/the broker's end, asked at teardown, left broker-made arn:aws:iam::\d+:role\//);
    expect(result?.evidence.some((e) => /what the broker made, looked up after its end at teardown: LEFT/.test(e.event))).toBe(true);
  }, 180_000);
});

describe('the reference broker, which deletes its role at the end', () => {
  test('keeps no-residue passing when its grant is left to expire: the end teardown asks for removes the role', async () => {
    const setup = (await loadSetups('aws', ['conformant'])).find((s) => s.scenario.id === 'broker-exec-role');
    if (!setup) return expect.unreachable('the built-in aws/broker-exec-role is missing');
    const run = await runOnLocalTarget('aws', [setup]);
    const [result] = run.results;
    // moto's unchecked session expiry is the known gap; nothing else may fail.
    expect(run.rows[0]?.outcome, run.rows[0]?.note).toBe('known-gap');
    expect(result?.checks.find((c) => c.name === 'no-residue')?.verdict).toBe('pass');
    expect(result?.evidence.some((e) => /what the broker made, looked up after its end at teardown: all gone/.test(e.event))).toBe(true);
    expect(result?.evidence.find((e) => /^broker granted task/.test(e.event))?.data?.made).toEqual([expect.stringMatching(/^arn:aws:iam::\d+:role\/jitc-.*broker-role$/)]);
  }, 180_000);
});
