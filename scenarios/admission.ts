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
 *   measures (halved when a grant's stretch took over half its TTL, raised by one when it took
 *   under a quarter), so it follows the machine and the target, not a guess.
 *
 * A scheduler, not a bigger pool: scenarios outside that stretch (waiting for an expiry, polling
 * reuse, reading residue) are not counted, so hundreds can wait at once.
 */
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

const POLL_MS = 10;

export class Admission {
  private inFlight = 0;
  private cap: number;

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

  async admit(ttlMs: number, signal: AbortSignal): Promise<AdmissionTicket> {
    const budgetMs = this.budgetFor(ttlMs);
    const started = Date.now();
    let overBudget = false;
    for (;;) {
      if (signal.aborted) throw new Interrupted();
      // The first grant in flight is always admitted on a prompt loop: a cap never starves the run.
      const room = this.inFlight < this.cap;
      if (room && this.options.loopDelayMs() <= budgetMs) break;
      if (Date.now() - started >= this.options.maxWaitMs) {
        overBudget = true;
        break;
      }
      await pause(POLL_MS, signal);
    }
    this.inFlight += 1;
    const admittedAt = Date.now();
    let released = false;
    return {
      waitedMs: Date.now() - started,
      budgetMs,
      overBudget,
      release: (measured) => {
        if (released) return;
        released = true;
        this.inFlight -= 1;
        if (!measured) return;
        const heldMs = Date.now() - admittedAt;
        const holdBudget = ttlMs * this.options.holdFraction;
        if (heldMs > holdBudget) this.cap = Math.max(1, Math.floor(this.cap / 2));
        else if (heldMs < holdBudget / 2) this.cap = Math.min(this.options.maxCap, this.cap + 1);
      },
    };
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Interrupted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
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
 * the target's own answers; the starting cap is a suite's default concurrency.
 */
export function processAdmission(): Admission {
  shared ??= new Admission({ lagFraction: 0.25, holdFraction: 0.5, loopDelayMs: processLoopLag().current, initialCap: 8, maxCap: 1000, maxWaitMs: 120_000 });
  return shared;
}
