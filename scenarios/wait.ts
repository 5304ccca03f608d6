/**
 * Waiting for a target to expire a grant: abortable (Ctrl-C must reach teardown at once) and
 * visible (the engineer sees what is awaited and how long is left).
 */
export type WaitReporter = (what: string, msLeft: number) => void;

export class Interrupted extends Error {
  override name = 'Interrupted';
  constructor(reason = 'run interrupted') {
    super(reason);
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Interrupted());
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Interrupted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Sleep until `untilMs` (epoch ms), reporting the time left about once a second. */
export async function waitUntil(untilMs: number, what: string, signal: AbortSignal, report?: WaitReporter): Promise<void> {
  let lastReport = Number.NEGATIVE_INFINITY;
  for (;;) {
    const now = Date.now();
    const left = untilMs - now;
    if (left <= 0) return;
    // Timers may fire a millisecond early; that remainder is not worth another line.
    if (now - lastReport >= 900) {
      report?.(what, left);
      lastReport = now;
    }
    await sleep(Math.min(left, 1000), signal);
  }
}
