/**
 * Admission of grants. A grant's TTL clock starts when the target issues it, so a harness that
 * issues more grants than it can use promptly lets them expire unused: the scenario is then
 * inconclusive, and nothing about the target was tested. The engine therefore asks for admission
 * before it requests a grant and gives the slot back once the work that must land inside the TTL
 * is done: the first use, and the context and extension attempts beside it (the only stretch
 * where the harness's own lag eats the TTL).
 *
 * Admission is granted while two things hold:
 * - this process's event loop is prompt: its current delay (timers firing late) is within a
 *   fraction of the scenario's shortest TTL, since every step between issue and first use waits
 *   on that loop;
 * - fewer grants are inside that stretch than the current cap. The cap adapts to what the run
 *   measures, so it follows the machine and the target, not a guess: when a grant's stretch took
 *   over half its TTL the cap becomes half the grants that were in their stretch with it; when it
 *   took under a quarter while the cap was what held grants back, the cap rises by one.
 *
 * As in TCP's congestion control, one overload is answered by one cut: grants admitted before the
 * last cut report the crowding that cut already answered, so their slow stretches cut no further
 * (a burst of them used to take the cap from hundreds to one in milliseconds and starve the run
 * for seconds). And a cap is raised only when it was binding: a cap that never held anything back
 * tells nothing, and grew unchecked until one cut could not bring it down to the real load.
 *
 * A scheduler, not a bigger pool: scenarios outside that stretch (waiting for an expiry, polling
 * reuse, reading residue) are not counted, so hundreds can wait at once.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { processLoopLag } from './loop-lag.ts';
import { Interrupted } from './wait.ts';

export interface AdmissionOptions {
  /** Share of a scenario's shortest TTL the event loop may be late by when a grant is admitted. */
  lagFraction: number;
  /** Share of the TTL a grant's in-window stretch may take before the cap is halved. */
  holdFraction: number;
  /** How late this process's timers fire right now, in ms. */
  loopDelayMs: () => number;
  /** Grants inside their in-window stretch at once, to start with; adapted from measurement. */
  initialCap: number;
  maxCap: number;
  /**
   * Longest a scenario waits for admission. Past it, it is admitted anyway and its result says
   * so: a machine that never becomes prompt must still finish the run, with the lag on record.
   */
  maxWaitMs: number;
}

/** What one admission cost, for the scenario's result. */
export interface AdmissionTicket {
  /** How long the scenario waited to be admitted, ms. */
  waitedMs: number;
  /** The budget it was admitted under: how late the event loop may be, ms. */
  budgetMs: number;
  /** True when it was admitted only because it had waited `maxWaitMs`. */
  overBudget: boolean;
  /**
   * Give the slot back. With `measured`, how long the slot was held (timed on this machine's own
   * clock from admission, so a target's clock skew cannot bend it) adapts the cap; without, as
   * when no grant was issued, nothing is learnt.
   */
  release(measured: boolean): void;
}

/** How often queued waiters are looked at again while none is released: the loop's promptness changes without any event. */
const RECHECK_MS = 10;

interface Waiter {
  budgetMs: number;
  started: number;
  admitted: (overBudget: boolean) => void;
}

export class Admission {
  private inFlight = 0;
  private cap: number;
  /** When the cap was last cut; grants admitted before it do not cut it again. */
  private cutAt = Number.NEGATIVE_INFINITY;
  /** Scenarios waiting, oldest first. One timer looks at all of them: a timer and an abort listener per waiter and per poll cost the harness the very promptness it waits for. */
  private readonly waiting: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: AdmissionOptions) {
    this.cap = options.initialCap;
  }

  /** Grants inside their in-window stretch right now, and how many may be. */
  state(): { inFlight: number; cap: number } {
    return { inFlight: this.inFlight, cap: this.cap };
  }

  budgetFor(ttlMs: number): number {
    return ttlMs * this.options.lagFraction;
  }

  admit(ttlMs: number, signal: AbortSignal): Promise<AdmissionTicket> {
    if (signal.aborted) return Promise.reject(new Interrupted());
    const budgetMs = this.budgetFor(ttlMs);
    const started = Date.now();
    return new Promise<AdmissionTicket>((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new Interrupted());
      };
      const waiter: Waiter = {
        budgetMs,
        started,
        admitted: (overBudget) => {
          signal.removeEventListener('abort', onAbort);
          resolve(this.ticket(ttlMs, budgetMs, started, overBudget));
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
      this.pump();
    });
  }

  /**
   * Let in every waiter that may go now, oldest first: one whose budget the loop's current delay
   * fits while there is room (a later waiter with a longer TTL may pass one the loop is too late
   * for), and any that waited `maxWaitMs`, room or not.
   */
  private pump(): void {
    const now = Date.now();
    const delay = this.options.loopDelayMs();
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i]!;
      const fits = this.inFlight < this.cap && delay <= w.budgetMs;
      if (fits || now - w.started >= this.options.maxWaitMs) {
        this.waiting.splice(i, 1);
        this.inFlight += 1;
        w.admitted(!fits);
        continue;
      }
      i += 1;
    }
    if (this.waiting.length > 0 && this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, RECHECK_MS);
    }
  }

  private ticket(ttlMs: number, budgetMs: number, started: number, overBudget: boolean): AdmissionTicket {
    const admittedAt = Date.now();
    let released = false;
    return {
      waitedMs: admittedAt - started,
      budgetMs,
      overBudget,
      release: (measured) => {
        if (released) return;
        released = true;
        // The grants in their stretch beside this one, this one included.
        const flight = this.inFlight;
        this.inFlight -= 1;
        if (measured) {
          const now = Date.now();
          const heldMs = now - admittedAt;
          const holdBudget = ttlMs * this.options.holdFraction;
          if (heldMs > holdBudget) {
            if (admittedAt >= this.cutAt) {
              this.cap = Math.max(1, Math.floor(Math.min(this.cap, flight) / 2));
              this.cutAt = now;
            }
          } else if (heldMs < holdBudget / 2 && flight >= this.cap) {
            this.cap = Math.min(this.options.maxCap, this.cap + 1);
          }
        }
        if (this.waiting.length > 0) this.pump();
      },
    };
  }
}

/** The shortest TTL a scenario states, in ms: its window, or any `…ttlSeconds`/`…durationSeconds` parameter below it. */
export function shortestTtlMs(windowSeconds: number, ...params: unknown[]): number {
  let shortest = windowSeconds;
  for (const p of params) {
    if (typeof p !== 'object' || p === null) continue;
    for (const [key, value] of Object.entries(p)) {
      if (typeof value === 'number' && value > 0 && /(ttl|duration)seconds$/i.test(key)) shortest = Math.min(shortest, value);
    }
  }
  return shortest * 1000;
}

let shared: Admission | undefined;

/**
 * The process's one admission: every scenario of a suite file shares its event loop. An event
 * loop late by a quarter of the TTL, or in-window work taking half of it, leaves too little for
 * the target's own answers. The cap starts at 8 grants in their stretch at once and adapts from
 * there (Admission), whatever the run's concurrency.
 */
export function processAdmission(): Admission {
  shared ??= new Admission({ lagFraction: 0.25, holdFraction: 0.5, loopDelayMs: processLoopLag().current, initialCap: 8, maxCap: 1000, maxWaitMs: 120_000 });
  return shared;
}

/**
 * Setups and baselines under way at once in this process. Neither has a deadline, but hundreds
 * started together queue inside the target until its answers miss the client's timeout, and the
 * scenario ends inconclusive for the harness's own crowding. The timed steps (the first use, the
 * in-window attempts, the probes after the end) never wait here.
 */
export const PREPARATIONS_AT_ONCE = 16;

/**
 * Teardowns under way at once in this process: a lane of their own, wider. They come one by one
 * as scenarios finish, and the run is over only when the last is done: in the lane of 16, 500
 * scenarios finishing within two seconds queued their teardowns for 1.4 s, all of it added to
 * the run's end. A teardown makes its calls one after another, so 64 at once (an interrupted run
 * starts all of its teardowns together) put at most 64 calls before the target at a time.
 */
export const TEARDOWNS_AT_ONCE = 64;

/** A lane of this process, made when first asked for: every scenario of a suite file shares it. */
function processLane(size: number): () => LimitFunction {
  let lane: LimitFunction | undefined;
  return () => (lane ??= pLimit(size));
}

export const processPreparations = processLane(PREPARATIONS_AT_ONCE);
export const processTeardowns = processLane(TEARDOWNS_AT_ONCE);
