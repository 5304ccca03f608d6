/**
 * The lifecycle engine against an in-process fake target: what it makes of each answer, that it
 * always tears down, and that no secret the mechanism registered reaches the result.
 */
import { describe, expect, test } from 'vitest';
import type { ReuseHandle, TargetConnection } from '../../adapters/contract.ts';
import { type EngineOptions, type PhaseWrapper, runScenario } from '../../scenarios/engine.ts';
import { PHASES, type Phase } from '../../scenarios/evidence.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { Interrupted, sleep, waitUntil } from '../../scenarios/wait.ts';
import {
  answer,
  FAKE_ADAPTER,
  type FakeScript,
  type FakeTarget,
  fakeConnection,
  fakeScenario,
  fakeTarget,
  type MechanismStep,
  scriptedHandle,
} from '../support/fake-adapter.ts';

const RUN_ID = 'tunit1';

async function run(
  script: FakeScript = {},
  scenario: Partial<Scenario> = {},
  extra: Partial<EngineOptions> & { connection?: TargetConnection } = {},
): Promise<{ result: ScenarioResult; target: FakeTarget }> {
  const target = fakeTarget(script);
  const { connection, ...options } = extra;
  const result = await runScenario(fakeScenario(scenario), {
    runId: RUN_ID,
    targets: connection ? { [FAKE_ADAPTER]: { ...target.targets[FAKE_ADAPTER]!, connection } } : target.targets,
    signal: new AbortController().signal,
    ...options,
  });
  return { result, target };
}

function check(result: ScenarioResult, name: string) {
  const found = result.checks.filter((c) => c.name === name);
  expect(found, `exactly one ${name} check in ${result.checks.map((c) => c.name).join(', ')}`).toHaveLength(1);
  return found[0]!;
}

function verdicts(result: ScenarioResult): Record<string, string> {
  return Object.fromEntries(result.checks.map((c) => [c.name, c.verdict]));
}

const ms = (iso: string): number => Date.parse(iso);

describe.concurrent('a conformant grant', () => {
  test('passes every check, runs every lifecycle phase in order and tears down', async () => {
    const { result, target } = await run();

    expect(result.verdict).toBe('pass');
    expect(verdicts(result)).toEqual({
      'zero-standing-privilege': 'pass',
      'ttl-bounded': 'pass',
      'grant-usable': 'pass',
      'reuse-denied': 'pass',
      'no-residue': 'pass',
    });
    expect(result.phases.map((p) => p.phase)).toEqual(PHASES);
    expect(result.phases.every((p) => p.status === 'done')).toBe(true);
    for (const [i, p] of result.phases.entries()) {
      expect(ms(p.startedAt), `${p.phase} has a start`).not.toBeNaN();
      expect(ms(p.finishedAt), `${p.phase} ends after it starts`).toBeGreaterThanOrEqual(ms(p.startedAt));
      const next = result.phases[i + 1];
      if (next) expect(ms(next.startedAt), `${next.phase} starts after ${p.phase} ends`).toBeGreaterThanOrEqual(ms(p.finishedAt));
    }
    expect(target.steps()).toEqual(['setup', 'entitlements', 'probeStanding', 'request', 'use', 'end', 'entitlements', 'teardown']);
    expect(target.calls.find((c) => c.step === 'end')?.mode).toBe('revoke');
    expect(result.teardown).toEqual({ removed: [`fixtures jitc-${RUN_ID}-fake-grant`], errors: [] });
  });

  test('records the timestamps an auditor asks for: request, issue, first use, revoke, each reuse attempt and the first denial', async () => {
    const { result, target } = await run({ handles: () => [scriptedHandle('fake credential', 'reuse-denied', ['allowed', 'denied'])] });
    const events = result.evidence;
    const find = (phase: Phase, text: string) => events.find((e) => e.phase === phase && e.event.startsWith(text));

    expect(find('request', 'grant requested')?.data).toMatchObject({ taskId: `${RUN_ID}/fake-grant`, approver: 'jitc-change-approval', windowSeconds: 1 });
    expect(find('request', 'grant issued')?.at).toBe(target.grant()?.issuedAt);
    expect(find('use', 'first use of the grant: allowed')).toBeDefined();
    expect(find('end', 'grant revocation requested at task end')).toBeDefined();
    expect(find('end', 'revoke call returned')?.data).toMatchObject({ callMs: expect.any(Number) });
    expect(find('reuse', 'reuse attempt 1 with fake credential: allowed')).toBeDefined();
    expect(find('reuse', 'reuse attempt 2 with fake credential: denied')).toBeDefined();
    expect(find('residue', 'entitlements snapshot after the task')?.data).toMatchObject({ residue: [], reads: 1 });
    expect(find('teardown', 'harness removed what it created')).toBeDefined();
    for (const e of events) expect(ms(e.at), e.event).not.toBeNaN();
  });

  test('states TTL asked and granted, privilege width, and the revocation latency', async () => {
    const { result } = await run({ ttlGrantedSeconds: 1, handles: () => [scriptedHandle('fake credential', 'reuse-denied', ['allowed', 'denied'])] });
    expect(result.metrics.ttlSeconds).toBe(1);
    expect(result.metrics.ttlRequestedSeconds).toBe(1);
    expect(result.metrics.privilegeWidth).toBe(1);
    expect(result.metrics.residue).toBe(0);
    expect(result.metrics.revocationLatencyMs).toBeGreaterThanOrEqual(100);
    expect(result.metrics.sessionOutlivedTtlMs).toBeGreaterThanOrEqual(0);
    expect(result.issued).toMatchObject({ credentialId: `fake-accessor-jitc-${RUN_ID}-fake-grant`, handles: ['fake credential'] });
  });

  test('names everything it creates with the run id and records the task id with the grant', async () => {
    const { result, target } = await run();
    expect(target.context()?.prefix).toBe(`jitc-${RUN_ID}-fake-grant`);
    expect(target.context()?.task.id).toBe(`${RUN_ID}/fake-grant`);
    expect(result.task).toEqual({ id: `${RUN_ID}/fake-grant`, approver: 'jitc-change-approval', windowSeconds: 1, needs: ['read the task secret'], endMode: 'revoke' });
    expect(result.runId).toBe(RUN_ID);
  });

  test('the controls of a result are those of its checks, sorted and without repeats', async () => {
    const { result } = await run();
    const expected = [...new Set(result.checks.flatMap((c) => c.controls))].sort();
    expect(result.controls).toEqual(expected);
    expect(result.controls).toContain('NIST-CSF-PR.AC-4');
    expect(result.controls).toContain('OWASP-NHI-03');
  });

  test('a phase wrapper (the Allure step) sees every phase in lifecycle order', async () => {
    const seen: Phase[] = [];
    const phase: PhaseWrapper = (p, body) => {
      seen.push(p);
      return body();
    };
    await run({}, {}, { phase });
    expect(seen).toEqual(PHASES);
  });
});

describe.concurrent('standing privilege', () => {
  test('an identity allowed before any grant is a zero-standing-privilege fail', async () => {
    const { result } = await run({ standing: 'allowed' });
    expect(check(result, 'zero-standing-privilege')).toMatchObject({ verdict: 'fail', severity: 'critical' });
    expect(check(result, 'zero-standing-privilege').detail).toMatch(/^standing privilege: allowed before any grant/);
    expect(result.verdict).toBe('fail');
  });

  test('an unknown answer before the grant is not taken as a denial', async () => {
    const { result } = await run({ standing: 'unknown' });
    expect(check(result, 'zero-standing-privilege').verdict).toBe('inconclusive');
    expect(result.verdict).toBe('inconclusive');
  });

  test('a standing probe that answers nothing conclusive is asked again, and the later answer stands', async () => {
    const { result, target } = await run({ standing: ['unknown', 'unknown', 'denied'] });
    expect(check(result, 'zero-standing-privilege').verdict).toBe('pass');
    expect(target.steps().filter((s) => s === 'probeStanding')).toHaveLength(3);
    expect(result.evidence.filter((e) => e.event.startsWith('standing probe answered nothing conclusive'))).toHaveLength(2);
    const never = await run({ standing: 'unknown' });
    expect(never.target.steps().filter((s) => s === 'probeStanding')).toHaveLength(3);
  });
});

describe.concurrent('a grant that never worked', () => {
  test.each(['denied', 'unknown'] as const)('use %s is inconclusive and every reuse check is inconclusive, never pass', async (use) => {
    const reuse = scriptedHandle('fake credential', 'reuse-denied', ['denied']);
    const session = scriptedHandle('session opened during use', 'session-ended-with-task', ['denied']);
    const { result } = await run({ use, handles: () => [reuse, session] });

    expect(check(result, 'grant-usable').verdict).toBe('inconclusive');
    expect(check(result, 'grant-usable').detail).toContain('nothing after it was tested');
    expect(check(result, 'reuse-denied').verdict).toBe('inconclusive');
    expect(check(result, 'session-ended-with-task').verdict).toBe('inconclusive');
    expect(result.verdict).toBe('inconclusive');
    expect(reuse.probes + session.probes).toBe(0); // a denial now would prove nothing
    expect(result.metrics.revocationLatencyMs).toBeNull();
  });
});

describe.concurrent('reuse after the end', () => {
  test('a credential still allowed at the deadline is a fail with how long it stayed usable', async () => {
    const { result } = await run({ handles: () => [scriptedHandle('fake credential', 'reuse-denied', ['allowed'])] }, { reuse: { deadlineSeconds: 0.25 } });
    const reuse = check(result, 'reuse-denied');
    expect(reuse.verdict).toBe('fail');
    expect(reuse.detail).toMatch(/fake credential still usable \d+ ms after the end, past the \d+ ms deadline/);
    expect(result.metrics.sessionOutlivedTtlMs).toBeGreaterThanOrEqual(200);
    expect(result.metrics.revocationLatencyMs).toBeNull();
    expect(result.verdict).toBe('fail');
  });

  test('a credential only ever answered with doubt is inconclusive', async () => {
    const { result } = await run({ handles: () => [scriptedHandle('fake credential', 'reuse-denied', ['unknown'])] }, { reuse: { deadlineSeconds: 0.2 } });
    expect(check(result, 'reuse-denied').verdict).toBe('inconclusive');
    expect(result.verdict).toBe('inconclusive');
  });

  test('handles evidencing the same check are judged by the worst of them', async () => {
    const { result } = await run(
      {
        handles: () => [
          scriptedHandle('JIT token', 'reuse-denied', ['denied']),
          scriptedHandle('copy of the JIT token', 'reuse-denied', ['allowed']),
        ],
      },
      { reuse: { deadlineSeconds: 0.2 } },
    );
    const reuse = check(result, 'reuse-denied');
    expect(reuse.verdict).toBe('fail');
    expect(reuse.detail).toContain('JIT token denied');
    expect(reuse.detail).toContain('copy of the JIT token still usable');
  });

  test('each handle evidences its own check: a child token outliving its parent fails derived-credentials-denied only', async () => {
    const { result } = await run(
      {
        handles: () => [
          scriptedHandle('JIT token', 'reuse-denied', ['denied']),
          scriptedHandle('child token', 'derived-credentials-denied', ['allowed']),
        ],
      },
      { reuse: { deadlineSeconds: 0.2 } },
    );
    expect(check(result, 'reuse-denied').verdict).toBe('pass');
    expect(check(result, 'derived-credentials-denied').verdict).toBe('fail');
    expect(result.verdict).toBe('fail');
  });

  test('the revocation latency is that of the slowest handle, and only when every handle was denied', async () => {
    const { result } = await run({
      handles: () => [scriptedHandle('JIT token', 'reuse-denied', ['denied']), scriptedHandle('child token', 'derived-credentials-denied', ['allowed', 'allowed', 'denied'])],
    }, { reuse: { deadlineSeconds: 2 } }); // a loaded machine's late timers must not push the third probe past the deadline
    expect(result.verdict).toBe('pass');
    expect(result.metrics.revocationLatencyMs).toBeGreaterThanOrEqual(240); // backoffs of 100 and 150 ms, timers may fire a little early
  });

  // BUG: when a mechanism's grant offers no reuse handle, the reuse phase probes nothing and adds
  // no check, so the scenario passes without the credential ever being tried after the end.
  test('a grant that offers nothing to probe after the end is not a pass', async () => {
    const { result } = await run({ handles: () => [] });
    expect(result.verdict).toBe('inconclusive');
    expect(check(result, 'reuse-denied').verdict).toBe('inconclusive');
  });

  test('handles are closed at teardown', async () => {
    const handle = scriptedHandle('LDAP connection opened during use', 'session-ended-with-task', ['denied']);
    await run({ handles: () => [scriptedHandle('fake credential', 'reuse-denied', ['denied']), handle] });
    expect(handle.closed).toBe(true);
  });
});

describe.concurrent('a mechanism that throws', () => {
  const cases: [MechanismStep, Phase][] = [
    ['setup', 'setup'],
    ['entitlements', 'baseline'],
    ['probeStanding', 'baseline'],
    ['request', 'request'],
    ['use', 'use'],
    ['end', 'end'],
  ];
  test.each(cases)('throwing in %s leaves lifecycle-completed inconclusive in %s, and teardown still runs', async (step, phase) => {
    const { result, target } = await run({ throwIn: { [step]: `target said no in ${step}` } });

    const lifecycle = check(result, 'lifecycle-completed');
    expect(lifecycle.verdict).toBe('inconclusive');
    expect(lifecycle.detail).toBe(`${phase}: target said no in ${step}`);
    expect(result.verdict).toBe('inconclusive');
    expect(target.steps().at(-1)).toBe('teardown');
    const failed = result.phases.find((p) => p.status === 'failed');
    expect(failed).toMatchObject({ phase, note: `target said no in ${step}` });
    expect(result.phases.at(-1)).toMatchObject({ phase: 'teardown', status: 'done' });
    expect(result.evidence.some((e) => e.event === `lifecycle stopped in ${phase}: target said no in ${step}`)).toBe(true);
  });

  test('a fail found before the error still stands: the scenario is the worst of its checks', async () => {
    const { result } = await run({ standing: 'allowed', throwIn: { use: 'connection reset' } });
    expect(check(result, 'zero-standing-privilege').verdict).toBe('fail');
    expect(check(result, 'lifecycle-completed').verdict).toBe('inconclusive');
    expect(result.verdict).toBe('fail');
  });

  test('a throwing residue read is inconclusive, and teardown still runs', async () => {
    let reads = 0;
    const { result, target } = await run({
      hooks: {
        entitlements: () => {
          reads += 1;
          if (reads > 1) throw new Error('HTTP 500 internal error');
        },
      },
    });
    expect(check(result, 'lifecycle-completed').detail).toBe('residue: HTTP 500 internal error');
    expect(result.checks.some((c) => c.name === 'no-residue')).toBe(false);
    expect(target.steps().at(-1)).toBe('teardown');
  });

  test('a failed teardown is recorded separately and does not change the verdict', async () => {
    const { result } = await run({ throwIn: { teardown: 'policy delete refused' } });
    expect(result.verdict).toBe('pass');
    expect(result.teardown.errors).toEqual(['fake/scripted: policy delete refused']);
    expect(result.evidence.some((e) => e.phase === 'teardown' && e.event === 'teardown of fake/scripted incomplete: policy delete refused')).toBe(true);
  });

  test('a handle that cannot be closed does not stop teardown', async () => {
    const stuck: ReuseHandle = {
      name: 'stuck session',
      check: 'session-ended-with-task',
      probe: async () => answer('denied'),
      close: async () => {
        throw new Error('socket already destroyed');
      },
    };
    const { result, target } = await run({ handles: () => [scriptedHandle('fake credential', 'reuse-denied', ['denied']), stuck] });
    expect(result.teardown.errors).toEqual(['close stuck session: socket already destroyed']);
    expect(target.steps().at(-1)).toBe('teardown');
    expect(result.teardown.removed).toHaveLength(1);
  });

  test('a finding naming a check outside the catalogue is inconclusive, not silently dropped', async () => {
    const { result } = await run({ findings: [{ check: 'made-up-check', verdict: 'pass', detail: 'looks fine' }] });
    expect(check(result, 'lifecycle-completed').detail).toMatch(/^use: check "made-up-check" is not declared by grant source fake\/scripted or point of use fake\/scripted/);
    expect(result.verdict).toBe('inconclusive');
  });

  test('a scenario naming a grant source the adapter lacks is refused before anything runs', async () => {
    const target = fakeTarget();
    await expect(
      runScenario(fakeScenario({ grant: { adapter: 'fake', name: 'nope', params: {} } }), { runId: RUN_ID, targets: target.targets, signal: new AbortController().signal }),
    ).rejects.toThrow('adapter fake has no grant source nope');
    expect(target.calls).toEqual([]);
  });

  test('a scenario whose grant comes from an adapter the run did not bring up is refused before anything runs', async () => {
    const target = fakeTarget();
    await expect(
      runScenario(fakeScenario({ grant: { adapter: 'elsewhere', name: 'scripted', params: {} } }), { runId: RUN_ID, targets: target.targets, signal: new AbortController().signal }),
    ).rejects.toThrow('needs a target of adapter elsewhere');
    expect(target.calls).toEqual([]);
  });
});

describe.concurrent('findings the mechanism reports', () => {
  test('a renewal past the cap reported by the mechanism fails the scenario', async () => {
    const { result } = await run({ findings: [{ check: 'holder-cannot-extend', verdict: 'fail', detail: 'renewals carried the token 40 s past its approved maximum' }] });
    expect(check(result, 'holder-cannot-extend')).toMatchObject({ verdict: 'fail', severity: 'critical' });
    expect(result.verdict).toBe('fail');
    expect(result.controls).toContain('OWASP-NHI-07');
  });
});

describe.concurrent('residue', () => {
  test('anything the task left on the target is a no-residue fail listing it, measured before teardown', async () => {
    const { result, target } = await run({ leftBehind: ['secret-id:abc123', 'group membership cn=ops'] }, { reuse: { deadlineSeconds: 0.2 } });
    const residue = check(result, 'no-residue');
    expect(residue.verdict).toBe('fail');
    expect(residue.detail).toBe('manual cleanup needed: secret-id:abc123, group membership cn=ops');
    expect(result.residue).toEqual(['secret-id:abc123', 'group membership cn=ops']);
    expect(result.metrics.residue).toBe(2);
    expect(result.verdict).toBe('fail');
    const steps = target.steps();
    expect(steps.lastIndexOf('entitlements')).toBeLessThan(steps.indexOf('teardown'));
  });

  test('what the target would not answer for is unknown: inconclusive alone, never a pass; beside readable residue the fail stands', async () => {
    const unreadable = 'unreadable token:acc1 (no answer: ECONNABORTED)';
    const alone = (await run({ leftBehind: [unreadable] }, { reuse: { deadlineSeconds: 0.2 } })).result;
    expect(check(alone, 'no-residue')).toMatchObject({ verdict: 'inconclusive', detail: `the target did not answer for what may be left: ${unreadable}` });
    expect(alone.verdict).toBe('inconclusive');
    const beside = (await run({ leftBehind: [unreadable, 'secret-id:abc123'] }, { reuse: { deadlineSeconds: 0.2 } })).result;
    expect(check(beside, 'no-residue').verdict).toBe('fail');
  });

  test('a grant the target reaps a little after the end is not residue', async () => {
    const { result } = await run({ reapedAfterReads: 2 }, { reuse: { deadlineSeconds: 2 } });
    expect(check(result, 'no-residue').verdict).toBe('pass');
    expect(result.residue).toEqual([]);
  });

  test('a grant the target never reaps is residue', async () => {
    const { result } = await run({ reapedAfterReads: 1_000 }, { reuse: { deadlineSeconds: 0.2 } });
    expect(check(result, 'no-residue').verdict).toBe('fail');
    expect(result.residue).toEqual([`credential fake-accessor-jitc-${RUN_ID}-fake-grant`]);
  });

  test('what the identity held before the grant is not residue', async () => {
    const { result } = await run();
    expect(check(result, 'no-residue').detail).toBe('the target holds nothing the task left behind');
  });
});

describe.concurrent('granted lifetime and width', () => {
  test('a grant without a stated expiry is a ttl-bounded fail', async () => {
    const { result } = await run({ ttlGrantedSeconds: null });
    const ttl = check(result, 'ttl-bounded');
    expect(ttl.verdict).toBe('fail');
    expect(ttl.detail).toMatch(/states no expiry.*approval window is 1 s/);
    expect(result.metrics.ttlSeconds).toBeNull();
    expect(result.verdict).toBe('fail');
  });

  test('a TTL longer than the approval window is a ttl-bounded fail', async () => {
    const { result } = await run({ ttlGrantedSeconds: 3600 }, { task: { windowSeconds: 60, approver: 'cab', needs: ['read'] } });
    expect(check(result, 'ttl-bounded')).toMatchObject({ verdict: 'fail', detail: 'granted TTL 3600 s exceeds the approval window of 60 s' });
  });

  test('a TTL one second over the window is rounding, not a finding; two seconds over is', async () => {
    const window = { windowSeconds: 60, approver: 'cab', needs: ['read'] };
    expect(check((await run({ ttlGrantedSeconds: 61 }, { task: window })).result, 'ttl-bounded').verdict).toBe('pass');
    expect(check((await run({ ttlGrantedSeconds: 62 }, { task: window })).result, 'ttl-bounded').verdict).toBe('fail');
  });

  test('privilege width above limits.maxPrivilegeWidth is a fail naming the scope', async () => {
    const { result } = await run(
      { scopeGranted: ['read secret/a', 'write secret/a', 'delete secret/a'] },
      { task: { windowSeconds: 1, approver: 'cab', needs: ['read secret/a'] }, limits: { maxPrivilegeWidth: 2 } },
    );
    const width = check(result, 'privilege-width');
    expect(width.verdict).toBe('fail');
    expect(width.detail).toBe('granted 3 (read secret/a, write secret/a, delete secret/a) for 1 needed: width 3.00, bound 2');
    expect(result.metrics.privilegeWidth).toBe(3);
    expect(result.verdict).toBe('fail');
  });

  test('privilege width at the bound passes', async () => {
    const { result } = await run(
      { scopeGranted: ['read secret/a', 'list secret/'] },
      { task: { windowSeconds: 1, approver: 'cab', needs: ['read secret/a'] }, limits: { maxPrivilegeWidth: 2 } },
    );
    expect(check(result, 'privilege-width').verdict).toBe('pass');
  });

  test('without limits the width is measured but not judged', async () => {
    const { result } = await run({ scopeGranted: ['a', 'b', 'c', 'd'] });
    expect(result.checks.some((c) => c.name === 'privilege-width')).toBe(false);
    expect(result.metrics.privilegeWidth).toBe(4);
  });
});

describe.concurrent('waiting for the target to expire the grant', () => {
  const expire = (windowSeconds: number, graceSeconds = 0): Partial<Scenario> => ({
    end: { mode: 'expire', graceSeconds },
    task: { windowSeconds, approver: 'cab', needs: ['read'] },
    reuse: { deadlineSeconds: 0.1 },
  });
  const waited = (target: FakeTarget): number => target.calls.find((c) => c.step === 'end')!.at - ms(target.grant()!.issuedAt);

  test('a stated expiry before the window ends is waited for, not the window', async () => {
    const { result, target } = await run({ expiresAfterMs: 150, ttlGrantedSeconds: 0.15 }, expire(1.5));
    expect(waited(target)).toBeGreaterThanOrEqual(145);
    expect(waited(target)).toBeLessThan(1_000);
    expect(target.calls.find((c) => c.step === 'end')?.mode).toBe('expire');
    const due = result.evidence.find((e) => e.event === 'grant due to have expired');
    expect(due?.at).toBe(target.grant()!.expiresAt);
    expect(result.verdict).toBe('pass');
  });

  test('a stated expiry after the window ends is cut at the window: privilege must not outlive it', async () => {
    const { target } = await run({ expiresAfterMs: 5_000, ttlGrantedSeconds: 5 }, expire(0.2));
    expect(waited(target)).toBeGreaterThanOrEqual(195);
    expect(waited(target)).toBeLessThan(1_000);
  });

  test('a grant with no stated expiry is judged at the window end', async () => {
    const { result, target } = await run({ expiresAfterMs: null, ttlGrantedSeconds: null }, expire(0.2));
    expect(waited(target)).toBeGreaterThanOrEqual(195);
    expect(waited(target)).toBeLessThan(1_000);
    expect(check(result, 'ttl-bounded').verdict).toBe('fail');
    const waiting = result.evidence.find((e) => e.event === 'waiting for the target to expire the grant');
    expect(waiting?.data).toMatchObject({ statedExpiry: null, graceSeconds: 0 });
  });

  test('the stated grace is allowed before a credential still working after expiry fails', async () => {
    // Usable for ~250 ms after its stated expiry, then denied.
    const lagging = (): ReuseHandle[] => {
      let deniedFrom = Number.POSITIVE_INFINITY;
      return [
        scriptedHandle('JIT token', 'reuse-denied', (attempt) => {
          if (attempt === 1) deniedFrom = Date.now() + 250;
          return answer(Date.now() >= deniedFrom ? 'denied' : 'allowed');
        }),
      ];
    };
    const withGrace = await run({ expiresAfterMs: 50, ttlGrantedSeconds: 0.05, handles: lagging }, expire(1, 0.5));
    expect(check(withGrace.result, 'reuse-denied').verdict).toBe('pass');
    expect(withGrace.result.metrics.revocationLatencyMs).toBeGreaterThanOrEqual(250);
    const noGrace = await run({ expiresAfterMs: 50, ttlGrantedSeconds: 0.05, handles: lagging }, expire(1, 0));
    expect(check(noGrace.result, 'reuse-denied').verdict).toBe('fail');
  });

  test('the wait says what it waits for and how long is left', async () => {
    const reports: [string, number][] = [];
    await run({ expiresAfterMs: 120, ttlGrantedSeconds: 0.12 }, expire(1), { onWait: (what, left) => reports.push([what, left]) });
    expect(reports.length).toBeGreaterThan(0);
    expect(reports[0]![0]).toBe(`fake/fake-grant: fake-accessor-jitc-${RUN_ID}-fake-grant to expire`);
    expect(reports[0]![1]).toBeGreaterThan(0);
    expect(reports[0]![1]).toBeLessThanOrEqual(120);
  });

  test('an abort during the wait is inconclusive at once, and teardown runs', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    const { result, target } = await run({ expiresAfterMs: 10_000, ttlGrantedSeconds: 10 }, expire(10), { signal: controller.signal });

    expect(Date.now() - started).toBeLessThan(2_000);
    expect(check(result, 'lifecycle-completed')).toMatchObject({ verdict: 'inconclusive', detail: 'end: interrupted' });
    expect(result.verdict).toBe('inconclusive');
    expect(target.steps()).not.toContain('end');
    expect(target.steps().at(-1)).toBe('teardown');
    expect(result.checks.some((c) => c.name === 'reuse-denied')).toBe(false);
  });

  test('a run aborted before the scenario starts touches nothing but teardown', async () => {
    const controller = new AbortController();
    controller.abort();
    const { result, target } = await run({}, {}, { signal: controller.signal });
    expect(target.steps()).toEqual(['teardown']);
    expect(check(result, 'lifecycle-completed')).toMatchObject({ verdict: 'inconclusive', detail: 'setup: interrupted' });
    expect(result.verdict).toBe('inconclusive');
  });

  test('an abort while polling reuse is inconclusive, and teardown runs', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const { result, target } = await run(
      { handles: () => [scriptedHandle('fake credential', 'reuse-denied', ['allowed'])] },
      { reuse: { deadlineSeconds: 10 } },
      { signal: controller.signal },
    );
    expect(check(result, 'lifecycle-completed').verdict).toBe('inconclusive');
    expect(check(result, 'lifecycle-completed').detail).toMatch(/^reuse: /);
    expect(result.checks.some((c) => c.name === 'reuse-denied')).toBe(false);
    expect(target.steps().at(-1)).toBe('teardown');
  });
});

describe.concurrent('secrets never reach the result', () => {
  const SECRET = 'fake-token.CAESIJ-not-a-real-secret-value';
  const ADMIN = 'root-token-of-the-target';

  test('a secret registered by the mechanism and slipped into details, evidence and errors is redacted everywhere', async () => {
    const { result } = await run(
      {
        secret: SECRET,
        findings: [{ check: 'holder-cannot-extend', verdict: 'pass', detail: `renewed ${SECRET} twice` }],
        handles: () => [
          scriptedHandle('fake credential', 'reuse-denied', () => answer('denied', `HTTP 403 permission denied for ${SECRET}`)),
        ],
        hooks: {
          use: (ctx) => {
            ctx.evidence.record(`used ${SECRET}`, { token: SECRET, nested: [{ again: `Bearer ${SECRET}` }] });
          },
          entitlements: (ctx, grant) => {
            if (grant && ctx.evidence.phase === 'residue') throw new Error(`lookup of ${SECRET} failed: HTTP 500`);
          },
          teardown: () => {
            throw new Error(`could not delete ${SECRET}`);
          },
        },
      },
      { reuse: { deadlineSeconds: 0.1 } },
      { connection: fakeConnection({ settings: { token: ADMIN, address: 'x' }, secretSettings: ['token'] }) },
    );

    const text = JSON.stringify(result);
    expect(text).not.toContain(SECRET);
    expect(text).toContain('[redacted sha256:');
    expect(check(result, 'reuse-denied').detail).toMatch(/permission denied for \[redacted sha256:[0-9a-f]{12}\]\), confirmed by/);
    expect(check(result, 'lifecycle-completed').detail).toMatch(/^residue: lookup of \[redacted sha256:[0-9a-f]{12}\] failed: HTTP 500$/);
    expect(result.phases.find((p) => p.phase === 'residue')?.note).toMatch(/^lookup of \[redacted/);
    expect(result.teardown.errors).toEqual([expect.stringMatching(/^fake\/scripted: could not delete \[redacted sha256:[0-9a-f]{12}\]$/)]);
    expect(check(result, 'holder-cannot-extend').detail).toMatch(/^renewed \[redacted sha256:[0-9a-f]{12}\] twice$/);
  });

  test('the target credentials named in secretSettings are redacted too', async () => {
    const { result } = await run(
      { hooks: { use: (ctx) => void ctx.evidence.record(`admin call with X-Vault-Token ${ADMIN}`) } },
      {},
      { connection: fakeConnection({ settings: { token: ADMIN }, secretSettings: ['token'] }) },
    );
    expect(JSON.stringify(result)).not.toContain(ADMIN);
  });

  test('a caller-supplied registry collects the scenario secrets, for the secret-scanning tests', async () => {
    const secrets = new SecretRegistry();
    await run({ secret: SECRET }, {}, { secrets });
    expect(secrets.values()).toContain(SECRET);
  });

  // BUG: runScenario redacts check details, phase notes, teardown errors and evidence, but copies
  // the grant summary, the residue list and teardown.removed into the result as the mechanism gave
  // them. The result is written whole as the evidence file and the Allure attachment.
  test('a secret that slipped into the grant record, the residue or the teardown list is redacted in the result', async () => {
    const { result } = await run(
      {
        secret: SECRET,
        leftBehind: [`token ${SECRET}`],
        removes: [`token ${SECRET}`],
        hooks: {
          use: (_ctx, grant) => {
            if (grant) grant.attributes.handedOver = SECRET;
          },
        },
      },
      { reuse: { deadlineSeconds: 0.1 } },
    );
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });
});

describe.concurrent('waiting primitives', () => {
  test('sleep rejects with Interrupted the moment the run is aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 50);
    await expect(sleep(5_000, controller.signal)).rejects.toBeInstanceOf(Interrupted);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  test('an already aborted run does not sleep', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(sleep(5_000, controller.signal)).rejects.toThrow('run interrupted');
  });

  test('waitUntil a time already past returns without reporting', async () => {
    const reports: number[] = [];
    await waitUntil(Date.now() - 1, 'nothing', new AbortController().signal, (_w, left) => reports.push(left));
    expect(reports).toEqual([]);
  });

  test('waitUntil reports about once a second while it waits', async () => {
    const reports: number[] = [];
    const started = Date.now();
    await waitUntil(started + 120, 'a token to expire', new AbortController().signal, (_w, left) => reports.push(left));
    expect(Date.now() - started).toBeGreaterThanOrEqual(115);
    expect(reports).toHaveLength(1);
  });
});
