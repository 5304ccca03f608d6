/**
 * What every break-glass grant source judges the same way, whatever the target: whether the
 * routine JIT identity is refused on the emergency path (`break-glass-isolated`), and how many
 * emergency grants the path lets be open at once (`break-glass-one-open`). The target's own part
 * (trying the path, telling whether a grant is still open, ending one) is the adapter's.
 */
import type { GrantRecord, ProbeResult, ScenarioContext } from './contract.ts';

/**
 * The routine identity's attempt on the path, judged: only the target's own refusal passes, a
 * success fails, anything else is inconclusive. `attempt` undefined: there was no routine identity to try.
 */
export function reportIsolation(ctx: ScenarioContext<unknown, unknown>, path: string, attempt: ProbeResult | undefined, noRoutine: string): void {
  if (!attempt) {
    ctx.report({ check: 'break-glass-isolated', verdict: 'inconclusive', detail: noRoutine });
    return;
  }
  const verdict = attempt.outcome === 'denied' ? 'pass' : attempt.outcome === 'allowed' ? 'fail' : 'inconclusive';
  const detail =
    attempt.outcome === 'denied'
      ? `the routine JIT identity is refused on ${path} (${attempt.detail})`
      : attempt.outcome === 'allowed'
        ? `the routine JIT identity obtained an emergency grant through ${path} (${attempt.detail}): the break-glass path is not kept apart from the routine channel`
        : `the routine JIT identity's attempt on ${path} got no recognised answer (${attempt.detail})`;
  ctx.report({ check: 'break-glass-isolated', verdict, detail });
}

/** How the target is asked for a further emergency grant, told whether the first is open, and made to end one. */
export interface FurtherGrants<T> {
  /** The path, in the target's terms, for details. */
  path: string;
  /** Emergency grants the scenario allows open at once; undefined: a further one is only recorded. */
  maxOpen: number | undefined;
  request(): Promise<{ result: ProbeResult; made?: T }>;
  /** Whether the first emergency grant is still open: true, false, or undefined when the target would not say. */
  firstOpen(): Promise<boolean | undefined>;
  /** End a further grant at once (a failure is the adapter's to record; teardown tries again). */
  release(made: T): Promise<void>;
  /** What identifies a further grant in the evidence: never a secret. */
  describe(made: T): Record<string, unknown>;
}

/**
 * While the first emergency grant is open, ask for more through the same path: each one issued
 * while the first is still open is recorded as repeated emergency use, then ended at once. With
 * `maxOpen` the path must refuse grants beyond it.
 */
export async function askWhileOpen<T>(ctx: ScenarioContext<unknown, unknown>, grant: GrantRecord, further: FurtherGrants<T>): Promise<void> {
  const max = further.maxOpen;
  let open = 1;
  const extra: T[] = [];
  let refusal: ProbeResult | undefined;
  let firstEnded = false;
  for (let i = 0; i < (max ?? 1); i++) {
    const { result, made } = await further.request();
    if (made === undefined) {
      refusal = result;
      break;
    }
    extra.push(made);
    // Issued after the first one ended, it shows nothing about grants open at once.
    if ((await further.firstOpen()) !== true) {
      firstEnded = true;
      ctx.evidence.record('a further emergency grant was issued, but the first one was no longer open by then: not counted as open at once', further.describe(made), new Date(result.at));
      break;
    }
    open += 1;
    ctx.evidence.record(`repeated emergency use: emergency grant ${open} issued while ${open - 1} ${open === 2 ? 'is' : 'are'} open`, { ...further.describe(made), open, maxOpen: max ?? null, byJitc: true }, new Date(result.at));
  }
  if (refusal) ctx.evidence.record(`a further emergency grant while ${open} ${open === 1 ? 'is' : 'are'} open: ${refusal.outcome}`, { answer: refusal.detail, open, maxOpen: max ?? null }, new Date(refusal.at));
  for (const made of extra) await further.release(made);
  grant.attributes.emergencyGrantsOpenAtOnce = open;
  if (max === undefined) return;
  if (open > max) {
    ctx.report({ check: 'break-glass-one-open', verdict: 'fail', detail: `${open} emergency grants were open at once through ${further.path}; the scenario allows ${max}` });
  } else if (refusal?.outcome === 'denied') {
    ctx.report({ check: 'break-glass-one-open', verdict: 'pass', detail: `a further emergency grant while ${open} ${open === 1 ? 'is' : 'are'} open was refused (${refusal.detail})` });
  } else {
    const why = firstEnded ? 'the first emergency grant had ended before a further one was issued' : `a further emergency grant got no recognised answer (${refusal?.detail ?? 'none'})`;
    ctx.report({ check: 'break-glass-one-open', verdict: 'inconclusive', detail: why });
  }
}
