/**
 * What a user's broker made for a task on the point of use's target (its `made` answer), looked
 * up on that target once the broker was asked to end the task. A broker may end the credential
 * and still leave the role or policy it made for it; the point of use's own residue reads only
 * what the credential reaches, and no scenario lists the whole target, so these objects are asked
 * for by name. Whatever the target does not answer for is `unknown`, and stays in the residue as
 * unreadable: never read as gone. jitc never removes them itself: that is the broker's end.
 *
 * Each object is also looked up while its task still holds the grant. "Gone" after the end counts
 * only for an object the same look-up showed as present before it. Otherwise the look-up may simply
 * not see it: a replica that never had it, a bind whose ACL hides it, or a broker naming something
 * other than what it made. For such an object, "gone" proves nothing.
 */
import pRetry from 'p-retry';
import { type LookUpResult, type PointOfUseProbe, UNREADABLE } from '../contract.ts';

/** How an object the broker made and the target still holds shows in the residue. */
export const MADE = 'broker-made ';

export interface LookedUp {
  ref: string;
  result: LookUpResult;
}

/** Each object once, in the order the broker named them. */
export async function lookUpMade(pointOfUse: Pick<PointOfUseProbe, 'lookUp'>, refs: readonly string[]): Promise<LookedUp[]> {
  return Promise.all([...new Set(refs)].map(async (ref) => ({ ref, result: await pointOfUse.lookUp(ref) })));
}

/**
 * The residue entries: one per object still there, and one unreadable per object the target did
 * not answer for, or says is gone without having shown it while the task held it (`held`: the
 * look-ups then; an object two tasks name counts as shown when either showed it).
 */
export function madeEntitlements(looked: readonly LookedUp[], held: readonly LookedUp[]): string[] {
  return looked.flatMap(({ ref, result }) => {
    if (result.state === 'present') return [`${MADE}${ref}`];
    if (result.state === 'unknown') return [`${UNREADABLE}${MADE}${ref} (${result.detail})`];
    const answers = held.filter((h) => h.ref === ref).map((h) => h.result);
    const before = answers.find((a) => a.state === 'present') ?? answers[0];
    if (before?.state === 'present') return [];
    const then = before ? `${before.state}: ${before.detail}` : 'not looked up';
    return [`${UNREADABLE}${MADE}${ref} (gone after the end, but the target did not show it while the task held its grant either (${then}): its absence proves nothing)`];
  });
}

/**
 * Targets remove what they were told to remove with a lag (IAM is eventually consistent): what is
 * still there, or unanswered, is asked again for this long before it stands.
 */
const SETTLE_MS = 5000;

/**
 * The objects of tasks whose end was asked only at teardown (the grant was left to expire, or
 * the lifecycle stopped before its end): the residue read came before the broker's end, so what
 * that end left is judged here, as `no-residue`, once the target had time to settle.
 */
export async function judgeMadeAfterTeardownEnd(
  pointOfUse: Pick<PointOfUseProbe, 'lookUp'>,
  refs: readonly string[],
  held: readonly LookedUp[],
): Promise<{ looked: LookedUp[]; verdict: 'pass' | 'fail' | 'inconclusive'; detail: string }> {
  let looked: LookedUp[] = [];
  class NotSettled extends Error {}
  try {
    await pRetry(
      async () => {
        looked = await lookUpMade(pointOfUse, refs);
        if (looked.some((l) => l.result.state !== 'gone')) throw new NotSettled();
      },
      // No abort signal: teardown runs after an interrupt too, and this is its last word on the broker's end.
      { retries: 100, minTimeout: 250, maxTimeout: 1000, factor: 1.5, randomize: false, maxRetryTime: SETTLE_MS },
    );
  } catch (error) {
    if (!(error instanceof NotSettled)) throw error;
  }
  const left = madeEntitlements(looked, held);
  const readable = left.filter((e) => !e.startsWith(UNREADABLE));
  if (left.length === 0) return { looked, verdict: 'pass', detail: `the broker's end, asked at teardown, removed everything it made (${refs.join(', ')})` };
  if (readable.length > 0) return { looked, verdict: 'fail', detail: `manual cleanup needed: the broker's end, asked at teardown, left ${left.join(', ')}` };
  return { looked, verdict: 'inconclusive', detail: `what the broker made and may have left could not be judged on the target: ${left.join(', ')}` };
}
