/**
 * The engine's rules that keep a pass honest on imperfect targets: the holder's own attempts to
 * extend its grant, every handle probed once more before teardown, several nodes each judged,
 * the harness's own lag measured and never blamed on the target, only declared checks, and the
 * urgency each phase's calls carry to a target's gate.
 */
import { describe, expect, test } from 'vitest';
import type { ExtensionAttempt, ExtensionResult, ReuseHandle } from '../../adapters/contract.ts';
import { runScenario } from '../../scenarios/engine.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import { answer, type FakeScript, fakeScenario, fakeTarget, scriptedHandle } from '../support/fake-adapter.ts';
import { errorText } from '../../scenarios/input.ts';
import { currentUrgency } from '../../adapters/call-urgency.ts';

async function run(script: FakeScript = {}, scenario: Partial<Scenario> = {}): Promise<ScenarioResult> {
  const target = fakeTarget(script);
  return runScenario(fakeScenario(scenario), { runId: 'ttrust1', targets: target.targets, signal: new AbortController().signal });
}

function check(result: ScenarioResult, name: string) {
  const found = result.checks.filter((c) => c.name === name);
  expect(found, `one ${name} in ${result.checks.map((c) => c.name).join(', ')}`).toHaveLength(1);
  return found[0]!;
}

/** An extension attempt whose answers per moment are scripted; `reach` is ms after now. */
function extension(name: string, answers: Partial<Record<'inside-window' | 'after-end', Omit<ExtensionResult, 'at'>>>, seen: string[] = []): ExtensionAttempt {
  return {
    name,
    attempt: async (moment) => {
      seen.push(moment);
      const scripted = answers[moment] ?? { outcome: 'refused', detail: 'HTTP 403 permission denied' };
      return { ...scripted, at: new Date().toISOString() };
    },
  };
}

const inMs = (ms: number): string => new Date(Date.now() + ms).toISOString();

describe.concurrent('the holder tries to extend its own grant', () => {
  test('a holder refused inside the window and after the end passes, and both moments are tried', async () => {
    const seen: string[] = [];
    const result = await run({ extensions: () => [extension('renew-self by 24 h', {}, seen)] });
    expect(seen).toEqual(['inside-window', 'after-end']);
    expect(check(result, 'holder-cannot-extend').verdict).toBe('pass');
    expect(result.evidence.some((e) => e.event === 'holder tried to extend its own grant inside the window: renew-self by 24 h: refused')).toBe(true);
    expect(result.verdict).toBe('pass');
  });

  test('a token that renews itself to 768 h is a fail saying how far past the window it reaches', async () => {
    const result = await run({ extensions: () => [extension('renew-self by 24 h', { 'inside-window': { outcome: 'extended', detail: 'lease_duration 2764800', reachesUntil: inMs(768 * 3600_000) } })] });
    const c = check(result, 'holder-cannot-extend');
    expect(c.verdict).toBe('fail');
    expect(c.detail).toMatch(/^renew-self by 24 h \(inside-window\): the holder extended its own grant \d+ s past the approval window of 1 s/);
    expect(result.verdict).toBe('fail');
  });

  test('an extension with no stated end is a fail', async () => {
    const result = await run({ extensions: () => [extension('refresh own entryTtl', { 'inside-window': { outcome: 'extended', detail: 'no TTL', reachesUntil: null } })] });
    expect(check(result, 'holder-cannot-extend').detail).toMatch(/with no end, past the approval window/);
  });

  test('a renewal that stays inside the window passes and is recorded with the task approver', async () => {
    const result = await run({ extensions: () => [extension('renew-self', { 'inside-window': { outcome: 'extended', detail: 'capped by explicit_max_ttl', reachesUntil: inMs(200) } })] });
    const c = check(result, 'holder-cannot-extend');
    expect(c.verdict).toBe('pass');
    expect(c.detail).toContain('extended within the approval window, under the task\'s approval by jitc-change-approval');
  });

  test('any extension after the task ended is a fail', async () => {
    const result = await run({ extensions: () => [extension('assume the role again', { 'after-end': { outcome: 'extended', detail: 'a fresh session', reachesUntil: inMs(100) } })] });
    expect(check(result, 'holder-cannot-extend').detail).toMatch(/^assume the role again \(after-end\): the holder brought its grant back after the task ended/);
  });

  test('a refusal that comes once the window is over proves nothing: inconclusive, blaming the harness, never a pass', async () => {
    // The harness came late (a loaded machine): the grant had ended before the holder's attempt was answered.
    const late: ExtensionAttempt = {
      name: 'renew-self by 24 h',
      attempt: async (moment) => ({ outcome: 'refused', detail: 'HTTP 403 permission denied', at: moment === 'inside-window' ? inMs(60_000) : new Date().toISOString() }),
    };
    const result = await run({ extensions: () => [late] });
    const c = check(result, 'holder-cannot-extend');
    expect(c.verdict).toBe('inconclusive');
    expect(c.detail).toMatch(/^renew-self by 24 h \(inside-window\): the harness lagged: .* the target is not blamed/);
    expect(result.verdict).not.toBe('pass');
  });

  test('an unreadable answer is inconclusive, and an attempt that throws is unknown, never refused', async () => {
    const throwing: ExtensionAttempt = { name: 'child token', attempt: async () => { throw new Error('socket hang up'); } };
    const result = await run({ extensions: () => [throwing] });
    const c = check(result, 'holder-cannot-extend');
    expect(c.verdict).toBe('inconclusive');
    expect(c.detail).toContain('socket hang up');
  });

  test('a credential the holder minted is probed after the end: one that outlives the task is a fail', async () => {
    const minted = scriptedHandle('child token minted by the holder', 'holder-cannot-extend', ['allowed']);
    const result = await run({ extensions: () => [extension('child token with a 1 h TTL', { 'inside-window': { outcome: 'extended', detail: 'child ttl capped', reachesUntil: inMs(100), minted: [minted] } })] });
    expect(minted.probes).toBeGreaterThan(1);
    const c = check(result, 'holder-cannot-extend');
    expect(c.verdict).toBe('fail');
    expect(c.detail).toMatch(/child token minted by the holder still usable/);
    expect(minted.closed).toBe(true);
  });

  test('independent attempts are tried at once, the others one after another, and the outcomes keep their declared order', async () => {
    const log: string[] = [];
    const timed = (name: string, independent: boolean): ExtensionAttempt => ({
      name,
      independent,
      attempt: async (moment) => {
        log.push(`${moment} ${name} start`);
        await new Promise((resolve) => setTimeout(resolve, 30));
        log.push(`${moment} ${name} end`);
        return { outcome: 'refused', detail: 'HTTP 403 permission denied', at: new Date().toISOString() };
      },
    });
    const result = await run({ extensions: () => [timed('refresh', false), timed('renew-self', true), timed('child token', true), timed('spend the refresh token', false)] });
    const inside = log.filter((l) => l.startsWith('inside-window')).map((l) => l.replace('inside-window ', ''));
    expect(inside).toEqual(['renew-self start', 'child token start', 'renew-self end', 'child token end', 'refresh start', 'refresh end', 'spend the refresh token start', 'spend the refresh token end']);
    const c = check(result, 'holder-cannot-extend');
    expect(c.verdict).toBe('pass');
    expect(c.detail.split('; ').map((d) => d.split(' (')[0])).toEqual(['refresh', 'renew-self', 'child token', 'spend the refresh token', 'refresh', 'renew-self', 'child token', 'spend the refresh token']);
  });

  test('a grant that never worked leaves the extension check inconclusive, untried', async () => {
    const seen: string[] = [];
    const result = await run({ use: 'denied', extensions: () => [extension('renew-self', {}, seen)] });
    expect(seen).toEqual([]);
    expect(check(result, 'holder-cannot-extend').verdict).toBe('inconclusive');
  });
});

describe.concurrent('every handle is probed once more just before teardown', () => {
  test('a credential that comes back after its confirmed denial is a fail', async () => {
    let ended = false;
    let back = false;
    const handle: ReuseHandle = { name: 'JIT token', check: 'reuse-denied', probe: async () => answer(back ? 'allowed' : 'denied') };
    const result = await run({
      handles: () => [handle],
      // The residue read comes after the confirmed denial; the credential is honoured again from then.
      hooks: { end: () => { ended = true; }, entitlements: () => { back = ended; } },
    });
    const c = check(result, 'reuse-denied');
    expect(c.verdict).toBe('fail');
    expect(c.detail).toMatch(/^JIT token allowed again just before teardown, \d+ ms after the end/);
    expect(result.evidence.some((e) => e.event === 'last probe before teardown with JIT token: allowed')).toBe(true);
  });

  test('no answer just before teardown turns a pass into inconclusive', async () => {
    let ended = false;
    let late = false;
    const handle: ReuseHandle = { name: 'JIT token', check: 'reuse-denied', probe: async () => answer(late ? 'unknown' : 'denied') };
    const result = await run({ handles: () => [handle], hooks: { end: () => { ended = true; }, entitlements: () => { late = ended; } } });
    expect(check(result, 'reuse-denied').verdict).toBe('inconclusive');
  });
});

describe.concurrent('several nodes behind a sticky balancer', () => {
  test('each node is polled on its own and one stale node fails the check', async () => {
    const nodes: (string | undefined)[] = [];
    const handle: ReuseHandle = {
      name: 'JIT token',
      check: 'reuse-denied',
      probe: async (node) => {
        nodes.push(node);
        return answer(node === 'http://127.0.0.3:8200' ? 'allowed' : 'denied');
      },
    };
    const result = await run({ handles: () => [handle] }, { reuse: { deadlineSeconds: 0.3, nodes: ['http://127.0.0.2:8200', 'http://127.0.0.3:8200'] } });
    // Polled and looked at once more on each node: never on an address the scenario did not list.
    expect(new Set(nodes)).toEqual(new Set(['http://127.0.0.2:8200', 'http://127.0.0.3:8200']));
    const c = check(result, 'reuse-denied');
    expect(c.verdict).toBe('fail');
    expect(c.detail).toContain('JIT token at http://127.0.0.3:8200 still usable');
    expect(c.detail).toContain('JIT token at http://127.0.0.2:8200 denied');
  });

  test('a node that honours the credential again after its confirmed denial is caught by the last look on that node', async () => {
    let ended = false;
    let back = false;
    const handle: ReuseHandle = {
      name: 'JIT token',
      check: 'reuse-denied',
      probe: async (node) => answer(back && node === 'http://127.0.0.3:8200' ? 'allowed' : 'denied'),
    };
    const result = await run(
      { handles: () => [handle], hooks: { end: () => { ended = true; }, entitlements: () => { back = ended; } } },
      { reuse: { deadlineSeconds: 0.3, nodes: ['http://127.0.0.2:8200', 'http://127.0.0.3:8200'] } },
    );
    const c = check(result, 'reuse-denied');
    expect(c.verdict).toBe('fail');
    expect(c.detail).toMatch(/JIT token at http:\/\/127\.0\.0\.3:8200 allowed again just before teardown/);
  });

  test('a session bound to its own connection is polled once, not once per node', async () => {
    const session = scriptedHandle('connection opened during use', 'session-ended-with-task', ['denied']);
    session.boundToConnection = true;
    const result = await run({ handles: () => [session] }, { reuse: { deadlineSeconds: 0.3, nodes: ['http://127.0.0.2:8200', 'http://127.0.0.3:8200'] } });
    expect(check(result, 'session-ended-with-task').detail).toMatch(/^connection opened during use denied/);
  });
});

describe.concurrent('the harness measures its own lag and never blames the target for it', () => {
  test('every result states issue → first use and end → first reuse probe', async () => {
    const result = await run();
    expect(result.metrics.harnessLag.issueToFirstUseMs).toBeGreaterThanOrEqual(0);
    expect(result.metrics.harnessLag.endToFirstReuseMs).toBeGreaterThanOrEqual(0);
  });

  test('a first use after the grant expired blames the harness, not the target', async () => {
    const result = await run({ expiresAfterMs: 50, use: 'denied', hooks: { use: () => new Promise((r) => setTimeout(r, 120)) } });
    const c = check(result, 'grant-usable');
    expect(c.verdict).toBe('inconclusive');
    expect(c.detail).toMatch(/^the harness lagged: it first used the grant \d+ ms after issue, at or past its stated expiry/);
  });

  test('a revoke call that outlasts the deadline is a fail naming the call', async () => {
    // A target that takes a second: more than this process's own lag on a loaded machine can explain.
    const result = await run({ hooks: { end: () => new Promise((r) => setTimeout(r, 1_000)) } }, { reuse: { deadlineSeconds: 0.3 } });
    expect(check(result, 'reuse-denied').verdict).toBe('fail');
    expect(check(result, 'reuse-denied').detail).toMatch(/the end call itself took \d+ ms( \(\d+ ms of it this process's own lag\))?, past the 300 ms deadline/);
  });
});

describe.concurrent('checks are declared', () => {
  test('a check the mechanism did not declare is refused, not reported', async () => {
    const result = await run({ declares: ['reuse-denied'], findings: [{ check: 'audit-trail', verdict: 'pass', detail: 'found' }] });
    expect(result.checks.some((c) => c.name === 'audit-trail')).toBe(false);
    expect(check(result, 'lifecycle-completed').detail).toMatch(/check "audit-trail" is not declared by grant source fake\/scripted or point of use fake\/scripted/);
  });

  test('an error keeps its whole reason: no line of it is cut away', () => {
    expect(errorText(new Error('1 error occurred:\n\t* batch tokens cannot be revoked\n\n'))).toBe('1 error occurred: * batch tokens cannot be revoked');
  });
});

describe.concurrent('urgency of the calls a scenario makes', () => {
  test('from the request to the last in-window attempt the calls go before queued ones; every other call waits its turn', async () => {
    const seen = new Set<string>();
    const note = (what: string) => (): void => void seen.add(`${what}: ${currentUrgency()}`);
    const result = await run({
      hooks: { setup: note('setup'), entitlements: note('entitlements'), probeStanding: note('standing'), request: note('request'), use: note('use'), end: note('end'), teardown: note('teardown') },
      extensions: () => [
        {
          name: 'renew-self',
          attempt: async (moment) => {
            note(moment)();
            return { outcome: 'refused', detail: 'HTTP 403 permission denied', at: new Date().toISOString() };
          },
        },
      ],
    });
    expect(result.verdict).toBe('pass');
    expect([...seen].sort()).toEqual(
      [
        'request: in-window',
        'use: in-window',
        'inside-window: in-window',
        'setup: in-turn',
        'entitlements: in-turn',
        'standing: in-turn',
        'end: in-turn',
        'after-end: in-turn',
        'teardown: in-turn',
      ].sort(),
    );
  });
});
