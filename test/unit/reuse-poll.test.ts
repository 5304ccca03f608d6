/**
 * Reuse polling: a denial counts only when it is stable — the final unbroken run of denials must
 * start within the deadline and last through a confirmation window that reaches it; anything
 * allowed past the deadline is a fail, even after a denial; doubt in the window stays doubt.
 */
import { describe, expect, test } from 'vitest';
import type { ProbeOutcome, ProbeResult } from '../../adapters/contract.ts';
import { Evidence } from '../../scenarios/evidence.ts';
import { CONFIRM_MIN_MS, CONFIRM_MIN_PROBES, pollUntilDenied, type PollOptions } from '../../scenarios/reuse-poll.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { answer, scriptedHandle } from '../support/fake-adapter.ts';
import { CallGate } from '../../adapters/call-urgency.ts';
import { setTimeout as sleep } from 'node:timers/promises';

function options(deadlineInMs: number, signal: AbortSignal = new AbortController().signal): PollOptions {
  const endedAt = Date.now();
  return { endedAt, endReturnedAt: endedAt, endCallLagMs: 0, deadlineAt: endedAt + deadlineInMs, evidence: new Evidence(new SecretRegistry()), signal };
}

/** Answers by the time since the end: `until(ms)` gives `before` until then, `after` from then on. */
function byTime(opts: PollOptions, untilMs: number, before: ProbeOutcome, after: ProbeOutcome): () => ProbeResult {
  return () => answer(Date.now() - opts.endedAt < untilMs ? before : after);
}

describe.concurrent('polling a credential after its grant ended', () => {
  test('a credential denied after some allowed attempts passes once the denial is confirmed through the deadline', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['allowed', 'allowed', 'denied']);
    const opts = options(500);
    const seen = await pollUntilDenied(handle, opts);

    expect(seen.verdict).toBe('pass');
    expect(seen.check).toBe('reuse-denied');
    const run = seen.attempts.slice(2);
    expect(run.every((a) => a.outcome === 'denied')).toBe(true);
    expect(run.length).toBeGreaterThanOrEqual(CONFIRM_MIN_PROBES);
    expect(run.at(-1)!.sentAt - run[0]!.sentAt).toBeGreaterThanOrEqual(CONFIRM_MIN_MS);
    expect(run.at(-1)!.dueAt).toBeGreaterThanOrEqual(opts.deadlineAt);
    expect(seen.revokedAt).toBe(run[0]);
    const latency = Date.parse(run[0]!.at) - opts.endedAt;
    expect(latency).toBeGreaterThanOrEqual(200); // two backoffs: 100 ms, then 150 ms
    expect(seen.detail).toMatch(new RegExp(`^JIT token denied ${latency} ms after the end \\(HTTP 403 permission denied\\), confirmed by ${run.length} denials over \\d+ ms through the deadline, at most \\d+ ms apart$`));
  });

  test('inside a run of denials, probes thin out until the last second before the deadline, then come every 300 ms', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['denied']);
    const opts = options(4000);
    const seen = await pollUntilDenied(handle, opts);
    expect(seen.verdict).toBe('pass');
    const denseFrom = opts.deadlineAt - CONFIRM_MIN_MS;
    const before = seen.attempts.filter((a) => a.sentAt < denseFrom).map((a) => a.sentAt);
    const lastSecond = seen.attempts.filter((a) => a.sentAt >= denseFrom);
    // Dense where an allowed would decide: the last second holds a probe every 300 ms, through the deadline.
    expect(lastSecond.length).toBeGreaterThanOrEqual(4);
    expect(lastSecond.at(-1)!.dueAt).toBeGreaterThanOrEqual(opts.deadlineAt);
    // Sparse before it: 300, 600, 1200 ms apart (then cut at the stretch), so 3 s hold 4 probes, not 10.
    expect(before.length).toBeLessThanOrEqual(4);
    expect(Math.max(...before.slice(1).map((at, i) => at - before[i]!))).toBeGreaterThanOrEqual(1000);
    // Dense all the way (every 300 ms from the first denial) was 14 probes.
    expect(seen.attempts.length).toBeLessThanOrEqual(9);
    expect(seen.detail).toMatch(/, at most \d+ ms apart$/);
  });

  test('a run whose probes skipped the last second before the deadline is not confirmed by the probes before the gap: a node flapping past it fails', async () => {
    // Denied at first; the third probe is answered only after the deadline (a stalled harness or one
    // slow answer), so no probe falls in the last second; from then on a stale replica answers every other connection.
    const opts = options(2500);
    let after = 0;
    const handle = scriptedHandle('JIT token', 'reuse-denied', () => answer('denied'));
    handle.probe = async () => {
      handle.probes += 1;
      if (Date.now() - opts.endedAt < 2500) {
        // The third denial is decided at once but reaches the harness only at 2.6 s.
        if (handle.probes === 3) await sleep(2600 - (Date.now() - opts.endedAt));
        return answer('denied');
      }
      return answer(++after % 2 === 1 ? 'denied' : 'allowed');
    };
    const seen = await pollUntilDenied(handle, opts);
    // Confirmed on the three probes before the gap and the one after it, this passed.
    expect(seen.verdict).toBe('fail');
    expect(seen.detail).toMatch(/allowed again \d+ ms after a denial \(unstable revocation\)/);
  });

  test('a target whose every answer takes 700 ms still gets its stable denial confirmed: the poll ends', async () => {
    const opts = options(1500);
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['denied']);
    const probe = handle.probe;
    handle.probe = async (node) => {
      await sleep(700);
      return probe(node);
    };
    const seen = await pollUntilDenied(handle, opts);
    expect(seen.verdict).toBe('pass');
    expect(seen.attempts.filter((a) => a.sentAt >= opts.deadlineAt - CONFIRM_MIN_MS).length).toBeGreaterThanOrEqual(CONFIRM_MIN_PROBES);
    expect(seen.attempts.length).toBeLessThanOrEqual(6);
  }, 10_000);

  test('a node that starts honouring the credential again in the last second before the deadline fails, however sparse the probes before', async () => {
    // Denied at first; from 1.5 s after the end a stale replica answers every other connection.
    const opts = options(2500);
    let calls = 0;
    const handle = scriptedHandle('JIT token', 'reuse-denied', () => answer(Date.now() - opts.endedAt < 1500 || ++calls % 2 === 1 ? 'denied' : 'allowed'));
    const seen = await pollUntilDenied(handle, opts);
    expect(seen.verdict).toBe('fail');
    expect(seen.detail).toMatch(/allowed again \d+ ms after a denial \(unstable revocation\)/);
  });

  test('a node that honours the credential again after a denial, past the deadline, is a fail: unstable revocation', async () => {
    // A round-robin front over a revoked primary and a stale replica: every other connection is allowed.
    const handle = scriptedHandle('JIT token', 'reuse-denied', (n) => answer(n % 2 === 1 ? 'denied' : 'allowed'));
    const seen = await pollUntilDenied(handle, options(400));
    expect(seen.verdict).toBe('fail');
    expect(seen.detail).toMatch(/^JIT token allowed again \d+ ms after a denial \(unstable revocation\), \d+ ms after the end, past the 400 ms deadline/);
    expect(seen.revokedAt).toBeUndefined();
  });

  test('a target that converges before the deadline (allowed, denied, allowed, then denied for good) passes and says so', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['allowed', 'denied', 'allowed', 'denied']);
    const seen = await pollUntilDenied(handle, options(900));
    expect(seen.verdict).toBe('pass');
    expect(seen.detail).toMatch(/; converged before the deadline: allowed again \d+ ms after a first denial \(HTTP 200\)$/);
    expect(seen.revokedAt).toBe(seen.attempts[3]);
  });

  test('a probe that queued at the target gate past the deadline is timed from when it left: a late revocation is not a pass', async () => {
    // The target honours the credential until 180 ms past the 400 ms deadline. The probe due at the
    // deadline queues behind another call holding the gate until 200 ms past it, then is denied:
    // timed from when it was asked for, that denial (answered within the round-trip slack) would
    // have placed the revocation at the deadline.
    const opts = options(400);
    const gate = new CallGate(1);
    const holder = sleep(300).then(() => gate.run(() => sleep(Math.max(0, opts.deadlineAt + 200 - Date.now()))));
    const handle = scriptedHandle('JIT token', 'reuse-denied', () => answer(Date.now() - opts.endedAt < 580 ? 'allowed' : 'denied'));
    const seen = await pollUntilDenied({ ...handle, probe: () => gate.run(() => handle.probe()) }, opts);
    await holder;
    expect(seen.verdict).toBe('inconclusive');
    expect(seen.detail).toMatch(/^JIT token: the last answer before the deadline was not a denial and the next went out only \d+ ms after the end/);
    const queued = seen.attempts.find((a) => a.outcome === 'denied')!;
    expect(queued.sentAt).toBeGreaterThanOrEqual(opts.deadlineAt + 200);
  });

  test('a first denial that comes after the deadline is a fail, not a late pass', async () => {
    const opts = options(400);
    const handle = scriptedHandle('JIT token', 'reuse-denied', byTime(opts, 700, 'allowed', 'denied'));
    const seen = await pollUntilDenied(handle, opts);
    expect(seen.verdict).toBe('fail');
    expect(seen.detail).toMatch(/^JIT token still usable \d+ ms after the end, past the 400 ms deadline/);
    // The poll stops at the first allowed answer past the deadline: the promise is already broken.
    expect(seen.attempts.at(-1)!.outcome).toBe('allowed');
  });

  test('a probe goes out right when the deadline falls due, so a denial just in time is seen in time', async () => {
    const opts = options(1500);
    const handle = scriptedHandle('JIT token', 'reuse-denied', byTime(opts, 1400, 'allowed', 'denied'));
    const seen = await pollUntilDenied(handle, opts);
    expect(seen.detail).toMatch(/^JIT token denied/);
    expect(seen.verdict).toBe('pass');
    expect(seen.attempts.some((a) => a.dueAt === opts.deadlineAt)).toBe(true);
  });

  test('an unknown answer inside the confirmation window is inconclusive, never a pass', async () => {
    const opts = options(300);
    const handle = scriptedHandle('JIT token', 'reuse-denied', byTime(opts, 600, 'denied', 'unknown'));
    const seen = await pollUntilDenied(handle, opts);
    expect(seen.verdict).toBe('inconclusive');
    expect(seen.detail).toMatch(/^JIT token: an answer that is not a denial inside the confirmation window, \d+ ms after the end: ECONNREFUSED$/);
  });

  test('unknown answers before the deadline do not spoil a stable denial that follows them', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['unknown', 'unknown', 'denied']);
    expect((await pollUntilDenied(handle, options(600))).verdict).toBe('pass');
  });

  test('a single-use credential that works again after its use is a fail, even if a later attempt is refused', async () => {
    const handle = scriptedHandle('secret_id (second login)', 'reuse-denied', ['allowed', 'denied']);
    const seen = await pollUntilDenied(handle, { ...options(5_000), singleUse: true });
    expect(seen.verdict).toBe('fail');
    expect(seen.detail).toMatch(/^secret_id \(second login\) worked again \d+ ms after its single use/);
    // The reuse is final: probing on would only spend more of the credential.
    expect(handle.probes).toBe(1);
  });

  test('a single-use credential refused for good passes', async () => {
    const handle = scriptedHandle('secret_id (second login)', 'reuse-denied', ['denied']);
    expect((await pollUntilDenied(handle, { ...options(300), singleUse: true })).verdict).toBe('pass');
  });

  test('only unknown answers to the deadline are inconclusive, never a pass', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['unknown']);
    const seen = await pollUntilDenied(handle, options(300));
    expect(seen.verdict).toBe('inconclusive');
    expect(seen.lastAllowed).toBeUndefined();
    expect(handle.probes).toBeGreaterThan(1); // doubt keeps polling
  });

  test('a credential seen working past the deadline is a fail even if earlier answers were unknown', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['unknown', 'allowed']);
    const seen = await pollUntilDenied(handle, options(300));
    expect(seen.verdict).toBe('fail');
    expect(seen.lastAllowed).toBeDefined();
  });

  test('a first reuse probe already past the deadline blames the harness: inconclusive, not a pass and not a target fail', async () => {
    for (const outcome of ['allowed', 'denied'] as const) {
      const handle = scriptedHandle('JIT token', 'reuse-denied', [outcome]);
      // The revoke call returned in time (100 ms); the harness then looked only 2 s after the end.
      const endedAt = Date.now() - 2_000;
      const seen = await pollUntilDenied(handle, { ...options(0), endedAt, endReturnedAt: endedAt + 100, deadlineAt: endedAt + 1_000 });
      expect(seen.verdict).toBe('inconclusive');
      expect(seen.detail).toMatch(/the harness lagged: its first reuse probe went out \d+ ms after the end, already past the 1000 ms deadline/);
    }
  });

  test('a revoke call that itself outlasts the deadline is a fail naming the call, even if the next probe is denied', async () => {
    const endedAt = Date.now() - 2_600;
    const opts: PollOptions = { ...options(0), endedAt, endReturnedAt: Date.now(), deadlineAt: endedAt + 1_000 };
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['denied']);
    const seen = await pollUntilDenied(handle, opts);
    expect(seen.verdict).toBe('fail');
    expect(seen.detail).toMatch(/^JIT token: the end call itself took \d+ ms, past the 1000 ms deadline/);
  });

  test("an end call that overran the deadline only by this process's own lag is not laid on the target", async () => {
    const endedAt = Date.now() - 2_600;
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['denied']);
    const lagged = await pollUntilDenied(handle, { ...options(0), endedAt, endReturnedAt: endedAt + 1_300, endCallLagMs: 900, deadlineAt: endedAt + 1_000 });
    expect(lagged.verdict).toBe('inconclusive');
    expect(lagged.detail).toMatch(/^JIT token: the end call took 1300 ms, past the 1000 ms deadline, but this process could not run for 900 ms of it/);
    // Lag that cannot explain the overrun leaves the fail standing, and says how much there was.
    const slow = await pollUntilDenied(scriptedHandle('JIT token', 'reuse-denied', ['denied']), { ...options(0), endedAt, endReturnedAt: endedAt + 1_300, endCallLagMs: 200, deadlineAt: endedAt + 1_000 });
    expect(slow.verdict).toBe('fail');
    expect(slow.detail).toMatch(/the end call itself took 1300 ms \(200 ms of it this process's own lag\), past the 1000 ms deadline/);
  });

  test('every attempt is timestamped evidence, measured from the end, with the time left to the deadline', async () => {
    const handle = scriptedHandle('child token', 'derived-credentials-denied', ['allowed', 'denied']);
    const opts = options(300);
    await pollUntilDenied(handle, opts);

    const events = opts.evidence.events;
    expect(events[0]!.event).toBe('reuse attempt 1 with child token: allowed');
    expect(events[1]!.event).toBe('reuse attempt 2 with child token: denied');
    expect(events[1]!.data).toMatchObject({ handle: 'child token', outcome: 'denied', answer: 'HTTP 403 permission denied' });
    expect(typeof events[1]!.data?.msAfterEnd).toBe('number');
    expect(typeof events[1]!.data?.msToDeadline).toBe('number');
    expect(Date.parse(events[1]!.at)).toBeGreaterThan(Date.parse(events[0]!.at));
  });

  test('a node address from the scenario reaches the probe and names the observation', async () => {
    const nodes: (string | undefined)[] = [];
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['denied']);
    const probe = handle.probe;
    handle.probe = (node) => {
      nodes.push(node);
      return probe(node);
    };
    const seen = await pollUntilDenied(handle, { ...options(200), node: 'http://127.0.0.2:8200' });
    expect(new Set(nodes)).toEqual(new Set(['http://127.0.0.2:8200']));
    expect(seen.handle).toBe('JIT token at http://127.0.0.2:8200');
  });

  test('an abort stops the poll at once', async () => {
    const controller = new AbortController();
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['allowed']);
    setTimeout(() => controller.abort(), 150);
    const started = Date.now();

    await expect(pollUntilDenied(handle, options(10_000, controller.signal))).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1_000);
    const probesAtAbort = handle.probes;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(handle.probes).toBe(probesAtAbort); // nothing keeps probing behind the abort
  });

  test('an aborted run does not probe at all', async () => {
    const controller = new AbortController();
    controller.abort();
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['denied']);
    await expect(pollUntilDenied(handle, options(10_000, controller.signal))).rejects.toThrow();
    expect(handle.probes).toBe(0);
  });

  test('a probe that throws is never read as a denial', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', (): ProbeResult => {
      throw new Error('socket hang up');
    });
    await expect(pollUntilDenied(handle, options(200))).rejects.toThrow('socket hang up');
  });

  test('the detail of a denial quotes the target, not the harness', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', () => answer('denied', 'HTTP 400 invalid accessor'));
    const seen = await pollUntilDenied(handle, options(300));
    expect(seen.detail).toMatch(/^JIT token denied \d+ ms after the end \(HTTP 400 invalid accessor\), confirmed by/);
  });
});

describe('a lagging harness never turns into a pass', () => {
  test('a denial seen only because the probe due at the deadline went out late is inconclusive', async () => {
    const opts = options(600);
    let blocked = false;
    const handle = scriptedHandle('JIT token', 'reuse-denied', () => {
      const late = Date.now() - opts.endedAt;
      // The event loop stalls just before the deadline probe; the target revoked only at 1 s.
      if (!blocked && late > 300) {
        blocked = true;
        const until = Date.now() + 900;
        while (Date.now() < until) {
          /* a loaded machine: nothing else runs */
        }
      }
      return answer(Date.now() - opts.endedAt < 1_000 ? 'allowed' : 'denied');
    });
    const seen = await pollUntilDenied(handle, opts);
    expect(seen.verdict).not.toBe('pass');
  });
});
