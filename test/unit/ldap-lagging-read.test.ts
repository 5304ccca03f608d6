/**
 * Waiting for directory state that lags: the read is repeated with backoff until found or the
 * deadline, the last answer decides, and the wait is counted.
 */
import { describe, expect, test } from 'vitest';
import { awaitLagging, describeWait, type LaggingOutcome } from '../../adapters/ldap/lagging-read.ts';

/** A read that answers from a script, one step per call, the last step repeating. */
function scripted(...steps: LaggingOutcome<string>[]): () => Promise<LaggingOutcome<string>> {
  let i = 0;
  return async () => steps[Math.min(i++, steps.length - 1)] as LaggingOutcome<string>;
}

const missing: LaggingOutcome<string> = { state: 'missing', value: 'not yet' };
const found: LaggingOutcome<string> = { state: 'found', value: 'record' };

describe('waiting for a read that lags', () => {
  test('a record that appears on the third read is found, and the wait says three reads', async () => {
    const wait = await awaitLagging(scripted(missing, missing, found), { deadlineMs: 5000, firstDelayMs: 10 });
    expect(wait.last).toEqual(found);
    expect(wait.reads).toBe(3);
    expect(describeWait(wait)).toMatch(/^found after 3 reads over \d+ ms \(deadline 5 s\)$/);
  });

  test('a record still missing at the deadline is missing, after reading until the deadline', async () => {
    const started = Date.now();
    const wait = await awaitLagging(scripted(missing), { deadlineMs: 400, firstDelayMs: 20 });
    expect(wait.last.state).toBe('missing');
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(wait.reads).toBeGreaterThan(3);
    expect(wait.waitedMs).toBeGreaterThanOrEqual(400);
  });

  test('a read that cannot reach the directory at the deadline is unreachable, never missing or found', async () => {
    const wait = await awaitLagging(
      async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:1');
      },
      { deadlineMs: 200, firstDelayMs: 20 },
    );
    expect(wait.last).toEqual({ state: 'unreachable', why: 'connect ECONNREFUSED 127.0.0.1:1' });
  });

  test('an unreachable moment followed by the record is found: only the last answer decides', async () => {
    const wait = await awaitLagging(scripted({ state: 'unreachable', why: 'busy (51)' }, found), { deadlineMs: 2000, firstDelayMs: 10 });
    expect(wait.last).toEqual(found);
  });

  test('a final answer (the log does not exist) stops the wait at once', async () => {
    const wait = await awaitLagging(scripted({ state: 'missing', value: 'no log', final: true }), { deadlineMs: 5000, firstDelayMs: 10 });
    expect(wait.reads).toBe(1);
    expect(wait.waitedMs).toBeLessThan(1000);
  });

  test('the pauses grow: a long deadline is not read every few milliseconds', async () => {
    const wait = await awaitLagging(scripted(missing), { deadlineMs: 1500, firstDelayMs: 100, maxDelayMs: 1000 });
    // 100, 150, 225, 337, 506, then cut at the deadline: about 7 reads, far fewer than 15.
    expect(wait.reads).toBeLessThanOrEqual(8);
  });
});
