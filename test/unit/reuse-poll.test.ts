/**
 * Reuse polling: only a recognised denial ends the poll early; a credential still working at the
 * deadline is a fail with how long it stayed usable; doubt to the deadline stays doubt.
 */
import { describe, expect, test } from 'vitest';
import type { ProbeResult } from '../../adapters/contract.ts';
import { Evidence } from '../../scenarios/evidence.ts';
import { pollUntilDenied } from '../../scenarios/reuse-poll.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { answer, scriptedHandle } from '../support/fake-adapter.ts';

function options(deadlineInMs: number, signal: AbortSignal = new AbortController().signal) {
  const endedAt = Date.now();
  return { endedAt, deadlineAt: endedAt + deadlineInMs, evidence: new Evidence(new SecretRegistry()), signal };
}

describe.concurrent('polling a credential after its grant ended', () => {
  test('a credential denied after some allowed attempts passes, with the latency from the end', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['allowed', 'allowed', 'denied']);
    const opts = options(5_000);
    const seen = await pollUntilDenied(handle, opts);

    expect(seen.verdict).toBe('pass');
    expect(seen.check).toBe('reuse-denied');
    expect(seen.attempts.map((a) => a.outcome)).toEqual(['allowed', 'allowed', 'denied']);
    expect(seen.firstDenied?.outcome).toBe('denied');
    expect(seen.lastAllowed?.outcome).toBe('allowed');
    const latency = Date.parse(seen.firstDenied!.at) - opts.endedAt;
    expect(latency).toBeGreaterThanOrEqual(200); // two backoffs: 100 ms, then 150 ms
    expect(seen.detail).toBe(`JIT token denied ${latency} ms after the end (HTTP 403 permission denied)`);
    expect(handle.probes).toBe(3);
  });

  test('a single-use credential that works again after its use is a fail, even if a later attempt is refused', async () => {
    const handle = scriptedHandle('secret_id (second login)', 'reuse-denied', ['allowed', 'denied']);
    const seen = await pollUntilDenied(handle, { ...options(5_000), singleUse: true });
    expect(seen.verdict).toBe('fail');
    expect(seen.detail).toMatch(/^secret_id \(second login\) worked again \d+ ms after its single use/);
    // The reuse is final: probing on would only spend more of the credential.
    expect(handle.probes).toBe(1);
  });

  test('a single-use credential refused at once passes', async () => {
    const handle = scriptedHandle('secret_id (second login)', 'reuse-denied', ['denied']);
    expect((await pollUntilDenied(handle, { ...options(5_000), singleUse: true })).verdict).toBe('pass');
  });

  test('the first denial stops the poll: a denied credential is probed once', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['denied']);
    const seen = await pollUntilDenied(handle, options(5_000));
    expect(seen.verdict).toBe('pass');
    expect(handle.probes).toBe(1);
    expect(seen.lastAllowed).toBeUndefined();
  });

  test('a credential still allowed at the deadline is a fail with how long it stayed usable', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['allowed']);
    const opts = options(400);
    const seen = await pollUntilDenied(handle, opts);

    expect(seen.verdict).toBe('fail');
    expect(seen.firstDenied).toBeUndefined();
    const usable = Date.parse(seen.lastAllowed!.at) - opts.endedAt;
    expect(usable).toBeGreaterThanOrEqual(350); // polled up to the deadline, not given up early
    expect(seen.detail).toContain(`JIT token still usable ${usable} ms after the end, at the deadline`);
    expect(seen.detail).toContain(`${seen.attempts.length} attempts`);
    expect(seen.attempts.length).toBeGreaterThan(2);
  });

  test('only unknown answers to the deadline are inconclusive, never a pass', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['unknown']);
    const seen = await pollUntilDenied(handle, options(300));

    expect(seen.verdict).toBe('inconclusive');
    expect(seen.firstDenied).toBeUndefined();
    expect(seen.lastAllowed).toBeUndefined();
    expect(handle.probes).toBeGreaterThan(1); // doubt keeps polling
    expect(seen.detail).toMatch(/^JIT token: no recognised denial in \d+ attempts; last answer: ECONNREFUSED$/);
  });

  test('a credential seen working once after the end is a fail even if later answers are unknown', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['unknown', 'allowed', 'unknown']);
    const seen = await pollUntilDenied(handle, options(300));
    expect(seen.verdict).toBe('fail');
    expect(seen.lastAllowed).toBeDefined();
  });

  test('every attempt is timestamped evidence, measured from the end', async () => {
    const handle = scriptedHandle('child token', 'derived-credentials-denied', ['allowed', 'denied']);
    const opts = options(5_000);
    await pollUntilDenied(handle, opts);

    expect(opts.evidence.events.map((e) => e.event)).toEqual([
      'reuse attempt 1 with child token: allowed',
      'reuse attempt 2 with child token: denied',
    ]);
    const [first, second] = opts.evidence.events;
    expect(second!.data).toMatchObject({ handle: 'child token', outcome: 'denied', answer: 'HTTP 403 permission denied' });
    expect(second!.data?.msAfterEnd).toBe(Date.parse(second!.at) - opts.endedAt);
    expect(Date.parse(second!.at)).toBeGreaterThan(Date.parse(first!.at));
  });

  test('a deadline already past still probes the credential once', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['allowed']);
    const seen = await pollUntilDenied(handle, options(-1_000));
    expect(handle.probes).toBe(1);
    expect(seen.verdict).toBe('fail');
  });

  test('an abort stops the poll at once', async () => {
    const controller = new AbortController();
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['allowed']);
    setTimeout(() => controller.abort(), 150);
    const started = Date.now();

    await expect(pollUntilDenied(handle, options(10_000, controller.signal))).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1_000);
    const probesAtAbort = handle.probes;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(handle.probes).toBe(probesAtAbort); // nothing keeps probing behind the abort
  });

  test('an aborted run does not probe at all', async () => {
    const controller = new AbortController();
    controller.abort();
    const handle = scriptedHandle('JIT token', 'reuse-denied', ['denied']);
    await expect(pollUntilDenied(handle, options(10_000, controller.signal))).rejects.toThrow();
    expect(handle.probes).toBe(0);
  });

  test('a probe that throws is never read as a denial', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', (): ProbeResult => {
      throw new Error('socket hang up');
    });
    await expect(pollUntilDenied(handle, options(200))).rejects.toThrow('socket hang up');
  });

  test('the detail of a denial quotes the target, not the harness', async () => {
    const handle = scriptedHandle('JIT token', 'reuse-denied', () => answer('denied', 'HTTP 400 invalid accessor'));
    const seen = await pollUntilDenied(handle, options(1_000));
    expect(seen.detail).toMatch(/^JIT token denied \d+ ms after the end \(HTTP 400 invalid accessor\)$/);
  });
});
