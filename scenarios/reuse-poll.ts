/**
 * Reuse polling: probe a handle after the grant ended until its denial is *stable*, or the
 * credential proves usable past the deadline (docs/architecture.md, "Verdict rules").
 *
 * A first denial proves little behind a round-robin front: one node may still honour the
 * credential (a stale replica, a response cache, eventual consistency). So the revocation time is
 * the start of the final unbroken run of denials; it must fall within the deadline, which is a
 * promise counted from the moment the end was requested; and that run must last through a
 * confirmation window that ends no earlier than the deadline, spans at least
 * {@link CONFIRM_MIN_MS} and holds at least {@link CONFIRM_MIN_PROBES} probes sent from
 * {@link CONFIRM_MIN_MS} before the deadline on. An `allowed` at or after
 * the deadline — even after a denial — is a fail; converging before the deadline is reported and
 * passes; `unknown` inside the confirmation window is inconclusive. Each probe is a new
 * connection (the handle's promise), so every answer is a fresh balancing decision.
 */
import { departed } from '../adapters/call-urgency.ts';
import type { ProbeResult, ReuseHandle } from '../adapters/contract.ts';
import type { Evidence } from './evidence.ts';
import type { CheckVerdict } from './verdict.ts';
import { Interrupted, sleep } from './wait.ts';

/** A stable denial is confirmed by at least this many denials in a row, sent from… */
export const CONFIRM_MIN_PROBES = 3;
/** …this long before the deadline on, the run spanning at least as long. */
export const CONFIRM_MIN_MS = 1000;
/** Backoff between probes before the first denial: from the first value up to the second. */
const BACKOFF_MS = { first: 100, max: 1000, factor: 1.5 } as const;
/**
 * Spacing inside a run of denials in the last {@link CONFIRM_MIN_MS} before the deadline, and
 * after it: there an `allowed` decides the verdict, and a node that still honours the credential
 * now and then has several chances a second to show it.
 */
const CONFIRM_SPACING_MS = 300;
/**
 * Spacing inside a run of denials before that last stretch: from {@link CONFIRM_SPACING_MS},
 * doubling, up to `max`. A relapse there is followed by a new run that must be confirmed anyway,
 * and passes if it is (converging before the deadline), so probes there only sharpen the reported
 * revocation time. Dense all the way, a deadline of minutes cost hundreds of probes per handle.
 */
const RUN_SPACING_MS = { max: 30_000, factor: 2 } as const;
/**
 * How late a timer may fire and the probe still count as sent when due. Beyond it the harness
 * itself lagged (a loaded machine), and the probe counts as sent when it really was: a late look
 * can only make a verdict inconclusive, never a pass.
 */
const TIMER_SLACK_MS = 50;
/**
 * A denial was decided somewhere between sending the probe and its answer. Answered after the
 * deadline, it places the revocation within the deadline only if its round trip was ordinary;
 * a slow answer (a stalled harness, a struggling target) leaves the moment unknown.
 */
const ROUND_TRIP_SLACK_MS = 250;

/** A probe's answer with when the harness sent it. */
export interface ReuseAttempt extends ProbeResult {
  /** When the probe left for the target: out of the target's gate where it has one, else when the harness asked. */
  sentAt: number;
  /**
   * When it was due. The probe due at the deadline is judged as sent at the deadline: a timer
   * firing a few milliseconds late must not make a denial look late.
   */
  dueAt: number;
}

export interface ReuseObservation {
  /** The handle's name, with the node when the scenario lists several. */
  handle: string;
  check: string;
  attempts: ReuseAttempt[];
  /** First probe of the final unbroken run of denials: the revocation time. Set only on a pass. */
  revokedAt: ReuseAttempt | undefined;
  /** Last time the credential was seen working after the end. */
  lastAllowed: ReuseAttempt | undefined;
  verdict: CheckVerdict;
  detail: string;
}

export interface PollOptions {
  /** When the end was requested (the revoke call started, or the grant was due to expire). */
  endedAt: number;
  /** When the end call returned: a revoke slower than the deadline cannot be proven in time. */
  endReturnedAt: number;
  /**
   * How long this process could not run during the end call (a loaded harness): time the target
   * cannot be blamed for when the call overran the deadline.
   */
  endCallLagMs: number;
  /** Epoch ms by which the credential must be denied for good: the promise. */
  deadlineAt: number;
  evidence: Evidence;
  signal: AbortSignal;
  /**
   * The grant was single-use and its use is over (end mode `consumed`). Then a probe that works is
   * a reuse, final: the probe itself may spend the spare use, so a later refusal proves nothing.
   */
  singleUse?: boolean;
  /** A node address from the scenario's `reuse.nodes`; absent: the target's own address. */
  node?: string;
}

export async function pollUntilDenied(handle: ReuseHandle, options: PollOptions): Promise<ReuseObservation> {
  const { evidence, signal, deadlineAt } = options;
  const name = options.node ? `${handle.name} at ${options.node}` : handle.name;
  const attempts: ReuseAttempt[] = [];
  let backoff: number = BACKOFF_MS.first;
  let runSpacing: number = CONFIRM_SPACING_MS;
  let runStart: ReuseAttempt | undefined;
  let dueAt = Date.now();
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) throw new Interrupted();
    const askedAt = Date.now();
    // Sent when it left the target's gate, where it has one: a probe that queued there past the
    // deadline and was denied says nothing of the moment it was asked for.
    const { value: answer, leftAt } = await departed(() => handle.probe(options.node));
    const sentAt = leftAt ?? askedAt;
    const result: ReuseAttempt = { ...answer, sentAt, dueAt: sentAt - dueAt <= TIMER_SLACK_MS ? Math.min(dueAt, sentAt) : sentAt };
    attempts.push(result);
    evidence.record(
      `reuse attempt ${attempt} with ${name}: ${result.outcome}`,
      { handle: name, outcome: result.outcome, answer: result.detail, msAfterEnd: sentAt - options.endedAt, msToDeadline: deadlineAt - sentAt },
      new Date(result.at),
    );
    const pastDeadline = result.dueAt >= deadlineAt;
    if (result.outcome === 'allowed' && (options.singleUse || pastDeadline)) break;
    if (result.outcome === 'unknown' && pastDeadline) break;
    if (result.outcome === 'denied') {
      runStart ??= result;
      if (isConfirmed(attempts.slice(attempts.indexOf(runStart)), deadlineAt)) break;
    } else {
      runStart = undefined;
    }
    const now = Date.now();
    if (runStart) {
      // Inside a run of denials: sparser and sparser until the last stretch before the deadline, dense from there.
      const denseFrom = deadlineAt - CONFIRM_MIN_MS;
      dueAt = now + CONFIRM_SPACING_MS >= denseFrom ? now + CONFIRM_SPACING_MS : Math.min(now + runSpacing, denseFrom);
      runSpacing = Math.min(runSpacing * RUN_SPACING_MS.factor, RUN_SPACING_MS.max);
    } else {
      // Not denied (yet, or again): back off, and a later run of denials starts dense again.
      dueAt = now + backoff;
      backoff = Math.min(backoff * BACKOFF_MS.factor, BACKOFF_MS.max);
      runSpacing = CONFIRM_SPACING_MS;
    }
    // One probe is always sent right at the deadline: the moment the promise falls due.
    if (result.dueAt < deadlineAt && dueAt > deadlineAt) dueAt = deadlineAt;
    await sleep(dueAt - Date.now(), signal);
  }
  return judge(name, handle.check, attempts, options);
}

/**
 * The final run of denials spans long enough, reaches the deadline, and holds enough probes sent
 * from {@link CONFIRM_MIN_MS} before the deadline on: a run whose probes skipped that stretch (a
 * stalled harness, one slow answer) is not confirmed by the probes before the gap, and polling
 * goes on past the deadline, where an `allowed` fails. Counted from the deadline, not from the
 * last probe, so a target whose every answer is slow still gets its run confirmed in the end.
 */
function isConfirmed(run: readonly ReuseAttempt[], deadlineAt: number): boolean {
  const first = run[0];
  const last = run.at(-1);
  if (!first || !last) return false;
  const nearDeadline = run.filter((a) => a.sentAt >= deadlineAt - CONFIRM_MIN_MS).length;
  return nearDeadline >= CONFIRM_MIN_PROBES && last.sentAt - first.sentAt >= CONFIRM_MIN_MS && last.dueAt >= deadlineAt;
}

/** The verdict on one handle's attempts. Exported for the rules' own tests. */
export function judge(name: string, check: string, attempts: ReuseAttempt[], options: Omit<PollOptions, 'evidence' | 'signal' | 'node'>): ReuseObservation {
  const { endedAt, deadlineAt } = options;
  const allowed = attempts.filter((a) => a.outcome === 'allowed');
  const lastAllowed = allowed.at(-1);
  const base = { handle: name, check, attempts, lastAllowed, revokedAt: undefined };
  const after = (a: ReuseAttempt): number => a.sentAt - endedAt;
  const deadlineMs = deadlineAt - endedAt;
  const verdict = (v: CheckVerdict, detail: string): ReuseObservation => ({ ...base, verdict: v, detail });

  const first = attempts[0];
  if (!first) return verdict('inconclusive', `${name}: never probed after the end`);
  if (options.singleUse && lastAllowed) {
    return verdict('fail', `${name} worked again ${after(lastAllowed)} ms after its single use (${lastAllowed.detail})`);
  }
  if (first.sentAt >= deadlineAt) {
    // Nothing was seen before the promise fell due. Whose lateness it was decides the verdict.
    if (options.endReturnedAt >= deadlineAt) {
      const callMs = options.endReturnedAt - endedAt;
      if (options.endReturnedAt - options.endCallLagMs < deadlineAt) {
        return verdict(
          'inconclusive',
          `${name}: the end call took ${callMs} ms, past the ${deadlineMs} ms deadline, but this process could not run for ${Math.round(options.endCallLagMs)} ms of it (a loaded harness), so the overrun cannot be laid on the target`,
        );
      }
      const lag = options.endCallLagMs >= 1 ? ` (${Math.round(options.endCallLagMs)} ms of it this process's own lag)` : '';
      return verdict('fail', `${name}: the end call itself took ${callMs} ms${lag}, past the ${deadlineMs} ms deadline, so the credential was not shown dead in time`);
    }
    return verdict(
      'inconclusive',
      `${name}: the harness lagged: its first reuse probe went out ${after(first)} ms after the end, already past the ${deadlineMs} ms deadline (nothing is judged on a late look)`,
    );
  }
  const lateAllowed = allowed.find((a) => a.dueAt >= deadlineAt);
  if (lateAllowed) {
    const denialBefore = attempts.slice(0, attempts.indexOf(lateAllowed)).filter((a) => a.outcome === 'denied').at(-1);
    if (denialBefore) {
      return verdict(
        'fail',
        `${name} allowed again ${lateAllowed.sentAt - denialBefore.sentAt} ms after a denial (unstable revocation), ${after(lateAllowed)} ms after the end, past the ${deadlineMs} ms deadline (${lateAllowed.detail})`,
      );
    }
    return verdict('fail', `${name} still usable ${after(lateAllowed)} ms after the end, past the ${deadlineMs} ms deadline (${attempts.length} attempts; last answer: ${lateAllowed.detail})`);
  }
  const lateUnknown = attempts.find((a) => a.outcome === 'unknown' && a.dueAt >= deadlineAt);
  if (lateUnknown) {
    return verdict('inconclusive', `${name}: an answer that is not a denial inside the confirmation window, ${after(lateUnknown)} ms after the end: ${lateUnknown.detail}`);
  }
  const lastOther = attempts.findLastIndex((a) => a.outcome !== 'denied');
  const run = attempts.slice(lastOther + 1);
  const start = run[0];
  const last = run.at(-1);
  if (!start || !last) return verdict('inconclusive', `${name}: no stable denial observed in ${attempts.length} attempts; last answer: ${attempts.at(-1)?.detail ?? 'none'}`);
  const answeredAt = Date.parse(start.at);
  if (answeredAt > deadlineAt && answeredAt - start.sentAt > ROUND_TRIP_SLACK_MS) {
    return verdict('inconclusive', `${name}: the first denial of the final run was sent ${after(start)} ms after the end but answered only ${answeredAt - start.sentAt} ms later, past the ${deadlineMs} ms deadline, so it cannot be placed within it`);
  }
  if (start.dueAt > deadlineAt) {
    return verdict('inconclusive', `${name}: the last answer before the deadline was not a denial and the next went out only ${after(start)} ms after the end (a slow answer or a lagging harness), so the denial cannot be placed within the ${deadlineMs} ms deadline`);
  }
  if (!isConfirmed(run, deadlineAt)) {
    return verdict('inconclusive', `${name}: denied from ${after(start)} ms after the end, but only ${run.length} denials over ${last.sentAt - start.sentAt} ms were seen, short of the confirmation window`);
  }
  // A denial, then a non-denial, then the final run: the target converged; reported, and it passes.
  const earlyDenial = attempts.slice(0, lastOther).find((a) => a.outcome === 'denied');
  const relapse = attempts[lastOther];
  const converged =
    earlyDenial && relapse
      ? `; converged before the deadline: ${relapse.outcome} again ${relapse.sentAt - earlyDenial.sentAt} ms after a first denial (${relapse.detail})`
      : '';
  return {
    ...base,
    revokedAt: start,
    verdict: 'pass',
    // The widest gap says how finely the run was seen: a relapse shorter than it may have gone unseen.
    detail: `${name} denied ${Date.parse(start.at) - endedAt} ms after the end (${start.detail}), confirmed by ${run.length} denials over ${last.sentAt - start.sentAt} ms through the deadline, at most ${widestGap(run)} ms apart${converged}`,
  };
}

/** The longest time between two probes of a run, ms. */
function widestGap(run: readonly ReuseAttempt[]): number {
  let widest = 0;
  for (let i = 1; i < run.length; i++) widest = Math.max(widest, run[i]!.sentAt - run[i - 1]!.sentAt);
  return widest;
}
