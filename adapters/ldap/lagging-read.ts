/**
 * Reading directory state that may lag behind what the harness just did: the accesslog record of
 * a change (written by an overlay, on a loaded server later than the change's own answer), an
 * entry dds reaps on its own schedule. Such a read is repeated with backoff until what is looked
 * for is there or a deadline passes, and the wait itself is evidence: how long, how many reads.
 *
 * The last read decides: `found`; `missing` (the directory answered, without it) — a fail for the
 * check that needed it; `unreachable` (no usable answer) — inconclusive, never a fail or a pass.
 */

/** `final`: the answer cannot change by waiting (the log itself does not exist), so reading stops. */
export type LaggingOutcome<T> = { state: 'found'; value: T } | { state: 'missing'; value: T; final?: boolean } | { state: 'unreachable'; why: string };

export interface LaggingWait<T> {
  last: LaggingOutcome<T>;
  /** Reads made, the first included. */
  reads: number;
  /** From the first read to the last answer. */
  waitedMs: number;
  deadlineMs: number;
}

export interface LaggingOptions {
  /** How long to keep reading while the answer is not `found`. */
  deadlineMs: number;
  signal?: AbortSignal;
  /** First pause between reads; each next one is 1.5 times longer, up to maxDelayMs. */
  firstDelayMs?: number;
  maxDelayMs?: number;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Read until `found` or the deadline; a read that throws counts as `unreachable` with its message. */
export async function awaitLagging<T>(read: () => Promise<LaggingOutcome<T>>, options: LaggingOptions): Promise<LaggingWait<T>> {
  const started = Date.now();
  const deadline = started + options.deadlineMs;
  let delay = options.firstDelayMs ?? 100;
  const maxDelay = options.maxDelayMs ?? 1000;
  let reads = 0;
  for (;;) {
    let last: LaggingOutcome<T>;
    try {
      last = await read();
    } catch (error) {
      last = { state: 'unreachable', why: error instanceof Error ? error.message : String(error) };
    }
    reads++;
    const now = Date.now();
    if (last.state === 'found' || (last.state === 'missing' && last.final) || now >= deadline || options.signal?.aborted) {
      return { last, reads, waitedMs: now - started, deadlineMs: options.deadlineMs };
    }
    await sleep(Math.min(delay, deadline - now), options.signal);
    delay = Math.min(maxDelay, delay * 1.5);
  }
}

/** The wait in words, for evidence and details: "found after 3 reads over 1.2 s (deadline 10 s)". */
export function describeWait(wait: Omit<LaggingWait<unknown>, 'last'> & { last: { state: string } }): string {
  const over = wait.waitedMs < 1000 ? `${wait.waitedMs} ms` : `${(wait.waitedMs / 1000).toFixed(1)} s`;
  return `${wait.last.state} after ${wait.reads} read${wait.reads === 1 ? '' : 's'} over ${over} (deadline ${(wait.deadlineMs / 1000).toFixed(0)} s)`;
}
