/**
 * Reuse polling: probe a handle with backoff (p-retry) until the target denies it or the deadline
 * passes. Only a recognised denial stops the poll early; `unknown` keeps polling and, at the
 * deadline, leaves the check inconclusive rather than passed.
 */
import pRetry, { AbortError } from 'p-retry';
import type { ProbeResult, ReuseHandle } from '../adapters/contract.ts';
import type { Evidence } from './evidence.ts';
import type { CheckVerdict } from './verdict.ts';

export interface ReuseObservation {
  handle: string;
  check: string;
  attempts: ProbeResult[];
  /** First recognised denial, if any. */
  firstDenied: ProbeResult | undefined;
  /** Last time the credential was seen working after the end. */
  lastAllowed: ProbeResult | undefined;
  verdict: CheckVerdict;
  detail: string;
}

class NotYetDenied extends Error {}
class ReusedSingleUse extends Error {}

export interface PollOptions {
  /** When the grant ended (revoke returned, or the stated expiry): latencies count from here. */
  endedAt: number;
  /** Epoch ms after which a still-working credential is a fail. */
  deadlineAt: number;
  evidence: Evidence;
  signal: AbortSignal;
  /**
   * The grant was single-use and its use is over (end mode `consumed`). Then a probe that works is
   * a reuse, final: the probe itself may spend the spare use, so a later refusal proves nothing.
   */
  singleUse?: boolean;
}

export async function pollUntilDenied(handle: ReuseHandle, options: PollOptions): Promise<ReuseObservation> {
  const attempts: ProbeResult[] = [];
  const { evidence, signal } = options;
  try {
    await pRetry(
      async (attempt) => {
        if (signal.aborted) throw new AbortError('interrupted');
        const result = await handle.probe();
        attempts.push(result);
        evidence.record(`reuse attempt ${attempt} with ${handle.name}: ${result.outcome}`, {
          handle: handle.name,
          outcome: result.outcome,
          answer: result.detail,
          msAfterEnd: Date.parse(result.at) - options.endedAt,
        }, new Date(result.at));
        if (result.outcome === 'allowed' && options.singleUse) throw new AbortError(new ReusedSingleUse());
        if (result.outcome !== 'denied') throw new NotYetDenied(result.outcome);
      },
      {
        retries: 10_000,
        minTimeout: 100,
        maxTimeout: 1000,
        factor: 1.5,
        randomize: false,
        maxRetryTime: Math.max(0, options.deadlineAt - Date.now()),
        signal,
      },
    );
  } catch (error) {
    if (signal.aborted) throw error;
    if (!(error instanceof NotYetDenied) && !(error instanceof ReusedSingleUse)) throw error;
  }
  return judge(handle, attempts, options.endedAt, options.singleUse === true);
}

function judge(handle: ReuseHandle, attempts: ProbeResult[], endedAt: number, singleUse: boolean): ReuseObservation {
  const firstDenied = attempts.find((a) => a.outcome === 'denied');
  const allowed = attempts.filter((a) => a.outcome === 'allowed');
  const lastAllowed = allowed.at(-1);
  const last = attempts.at(-1);
  const base = { handle: handle.name, check: handle.check, attempts, firstDenied, lastAllowed };
  const after = (p: ProbeResult): number => Date.parse(p.at) - endedAt;
  if (singleUse && lastAllowed) {
    return { ...base, firstDenied: undefined, verdict: 'fail', detail: `${handle.name} worked again ${after(lastAllowed)} ms after its single use (${lastAllowed.detail})` };
  }
  if (firstDenied) {
    return { ...base, verdict: 'pass', detail: `${handle.name} denied ${after(firstDenied)} ms after the end (${firstDenied.detail})` };
  }
  if (lastAllowed) {
    return {
      ...base,
      verdict: 'fail',
      detail: `${handle.name} still usable ${after(lastAllowed)} ms after the end, at the deadline (${attempts.length} attempts; last answer: ${last?.detail ?? 'none'})`,
    };
  }
  return {
    ...base,
    verdict: 'inconclusive',
    detail: `${handle.name}: no recognised denial in ${attempts.length} attempts; last answer: ${last?.detail ?? 'none'}`,
  };
}
