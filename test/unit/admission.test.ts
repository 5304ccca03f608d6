/**
 * Admission of grants: the scheduler waits instead of letting grants expire unused. The lag here
 * is real (busy loops on this process's event loop), the grants are simulated: what is under test
 * is when the harness lets itself start a TTL clock.
 */
import { setMaxListeners } from 'node:events';
import { describe, expect, test, vi } from 'vitest';
import { Admission, type AdmissionTicket, shortestTtlMs } from '../../scenarios/admission.ts';
import { loopLagMonitor } from '../../scenarios/loop-lag.ts';
import { sleep } from '../../scenarios/wait.ts';

const never = new AbortController().signal;
// Every waiting admission listens on it, as a run's scenarios listen on the run's one signal.
setMaxListeners(0, never);

function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // Holding the event loop, as a burst of synchronous work in other scenarios would.
  }
}

describe('admission', () => {
  test('admits up to the cap, then waits for a release', async () => {
    const admission = new Admission({ lagFraction: 0.25, holdFraction: 0.5, loopDelayMs: () => 0, initialCap: 2, maxCap: 10, maxWaitMs: 5_000 });
    const a = await admission.admit(1_000, never);
    const b = await admission.admit(1_000, never);
    let third = false;
    const c = admission.admit(1_000, never).then((t) => {
      third = true;
      return t;
    });
    await sleep(50, never);
    expect(third).toBe(false);
    a.release(true);
    const ticket = await c;
    expect(ticket.waitedMs).toBeGreaterThanOrEqual(40);
    expect(admission.state().inFlight).toBe(2);
    b.release(false);
    ticket.release(false);
    expect(admission.state().inFlight).toBe(0);
  });

  test('a stretch over half the TTL cuts the cap to half the grants beside it, once per overload; a quick one raises a binding cap by one; an unmeasured release changes nothing', async () => {
    // The slot is timed on this machine's clock from admission: the clock is moved by hand here.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const admission = new Admission({ lagFraction: 0.25, holdFraction: 0.5, loopDelayMs: () => 0, initialCap: 8, maxCap: 9, maxWaitMs: 5_000 });
      const admitAll = (n: number): Promise<AdmissionTicket[]> => Promise.all(Array.from({ length: n }, () => admission.admit(1_000, never)));
      // Eight crowded together, all slow: the first cuts to half of the eight; the seven admitted with it report the same crowding.
      const crowd = await admitAll(8);
      vi.setSystemTime(Date.now() + 600);
      for (const ticket of crowd) ticket.release(true);
      expect(admission.state()).toEqual({ inFlight: 0, cap: 4 });
      crowd[0]!.release(true);
      expect(admission.state()).toEqual({ inFlight: 0, cap: 4 });
      // A quick stretch while the cap is binding raises it by one: once a round here, as the release
      // that raised it left the cap no longer full. Up to the maximum.
      for (let round = 0; round < 6; round++) {
        const full = await admitAll(admission.state().cap);
        vi.setSystemTime(Date.now() + 200);
        for (const ticket of full) ticket.release(true);
      }
      expect(admission.state().cap).toBe(9);
      // Quick stretches of one grant at a time: the cap held nothing back and stays.
      const cut = new Admission({ lagFraction: 0.25, holdFraction: 0.5, loopDelayMs: () => 0, initialCap: 4, maxCap: 9, maxWaitMs: 5_000 });
      for (let i = 0; i < 5; i++) (await cut.admit(1_000, never)).release(true);
      expect(cut.state().cap).toBe(4);
      // Unmeasured: nothing learnt.
      const unmeasured = await admission.admit(1_000, never);
      vi.setSystemTime(Date.now() + 900);
      unmeasured.release(false);
      expect(admission.state().cap).toBe(9);
      // Slow with three in their stretch: half of three. Then slow alone, admitted after that cut: one.
      const three = await admitAll(3);
      vi.setSystemTime(Date.now() + 900);
      for (const ticket of three) ticket.release(true);
      expect(admission.state().cap).toBe(1);
      const alone = await admission.admit(1_000, never);
      vi.setSystemTime(Date.now() + 900);
      alone.release(true);
      expect(admission.state()).toEqual({ inFlight: 0, cap: 1 });
    } finally {
      vi.useRealTimers();
    }
  });

  test('a slow event loop holds admission until it is prompt again; past the longest wait it admits and says so', async () => {
    let delay = 400;
    const admission = new Admission({ lagFraction: 0.25, holdFraction: 0.5, loopDelayMs: () => delay, initialCap: 8, maxCap: 8, maxWaitMs: 300 });
    const overdue = await admission.admit(1_000, never);
    expect(overdue.overBudget).toBe(true);
    expect(overdue.waitedMs).toBeGreaterThanOrEqual(290);
    overdue.release(false);

    const patient = new Admission({ lagFraction: 0.25, holdFraction: 0.5, loopDelayMs: () => delay, initialCap: 8, maxCap: 8, maxWaitMs: 10_000 });
    setTimeout(() => (delay = 100), 200);
    const ticket = await patient.admit(1_000, never);
    expect(ticket.overBudget).toBe(false);
    expect(ticket.waitedMs).toBeGreaterThanOrEqual(150);
    expect(ticket.budgetMs).toBe(250);
  });

  test('an interrupt ends the wait', async () => {
    const admission = new Admission({ lagFraction: 0.25, holdFraction: 0.5, loopDelayMs: () => 10_000, initialCap: 1, maxCap: 1, maxWaitMs: 60_000 });
    const controller = new AbortController();
    const waiting = admission.admit(1_000, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toThrow('run interrupted');
    expect(admission.state().inFlight).toBe(0);
  });

  test('hundreds of waiters cost one listener each and one timer between them, oldest first, a longer TTL passing one the loop is too late for', async () => {
    let delay = 0;
    const admission = new Admission({ lagFraction: 0.25, holdFraction: 0.5, loopDelayMs: () => delay, initialCap: 1, maxCap: 1, maxWaitMs: 60_000 });
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    let listeners = 0;
    const add = controller.signal.addEventListener.bind(controller.signal);
    controller.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners += 1;
      add(...args);
    }) as typeof add;
    const timers = vi.spyOn(globalThis, 'setTimeout');
    try {
      const first = await admission.admit(1_000, controller.signal);
      const order: number[] = [];
      const queued = Array.from({ length: 300 }, (_, i) =>
        admission.admit(1_000, controller.signal).then((ticket) => {
          order.push(i);
          return ticket;
        }),
      );
      await sleep(200, never);
      // sleep's own timer, and the one re-check pending at a time.
      expect(timers.mock.calls.length).toBeLessThan(30);
      expect(listeners).toBe(301);
      delay = 400;
      const patient = admission.admit(4_000, controller.signal);
      first.release(false);
      await sleep(30, never);
      expect(order).toEqual([]);
      (await patient).release(false);
      delay = 0;
      for (const ticket of queued) (await ticket).release(false);
      expect(order).toEqual(Array.from({ length: 300 }, (_, i) => i));
    } finally {
      timers.mockRestore();
    }
  });

  test('the sampler reads a stall of the event loop, including one still under way', async () => {
    const delay = loopLagMonitor(10, 5).current;
    await sleep(60, never);
    expect(delay()).toBeLessThan(150);
    busy(250);
    expect(delay()).toBeGreaterThanOrEqual(200);
    await sleep(15, never);
    expect(delay()).toBeGreaterThanOrEqual(200);
  });

  test('the monitor counts the time the process could not run between two instants', async () => {
    const lag = loopLagMonitor(10, 5);
    await sleep(50, never);
    const from = Date.now();
    busy(300);
    await sleep(30, never);
    const to = Date.now();
    expect(lag.during(from, to)).toBeGreaterThanOrEqual(250);
    expect(lag.during(from, to)).toBeLessThanOrEqual(to - from);
    await sleep(60, never);
    const quiet = Date.now();
    await sleep(100, never);
    expect(lag.during(quiet, Date.now())).toBeLessThan(80);
  });

  test('grants are used within their TTL under injected lag with admission, and expire unused without it', async () => {
    const ttlMs = 2_000;
    // Each grant costs 40 ms of synchronous work between its issue and its first use.
    const simulate = async (admit: () => Promise<() => void>): Promise<number[]> => {
      const lags: number[] = [];
      await Promise.all(
        Array.from({ length: 60 }, async () => {
          const release = await admit();
          const issuedAt = Date.now();
          await sleep(0, never);
          busy(40);
          await sleep(0, never);
          const lag = Date.now() - issuedAt;
          lags.push(lag);
          release();
        }),
      );
      return lags;
    };
    const unscheduled = await simulate(async () => () => undefined);
    expect(unscheduled.filter((lag) => lag > ttlMs).length).toBeGreaterThan(0);

    const admission = new Admission({ lagFraction: 0.25, holdFraction: 0.5, loopDelayMs: loopLagMonitor(10, 5).current, initialCap: 8, maxCap: 1000, maxWaitMs: 60_000 });
    const scheduled = await simulate(async () => {
      const ticket = await admission.admit(ttlMs, never);
      return () => ticket.release(true);
    });
    expect(Math.max(...scheduled)).toBeLessThan(ttlMs);
  });
});

describe('the TTL a scenario is scheduled by', () => {
  test('is its window, or any shorter ttl or duration parameter of either half', () => {
    expect(shortestTtlMs(30, {}, {})).toBe(30_000);
    expect(shortestTtlMs(6, { ttlSeconds: 3, explicitMaxTtlSeconds: 6 }, {})).toBe(3_000);
    expect(shortestTtlMs(900, { durationSeconds: 900 }, { secretIdTtlSeconds: 5 })).toBe(5_000);
    expect(shortestTtlMs(10, { ttlSeconds: null, name: 'x', periodSeconds: 1 }, undefined)).toBe(10_000);
  });
});
