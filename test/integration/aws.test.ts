/**
 * Every AWS scenario and its broken twin against a real moto_server the test starts, with moto's IAM
 * enforcement on. moto never expires an assumed-role session (it looks session keys up without
 * reading their Expiration), so the expiry scenario is reported fail there, as it must be. Where moto
 * enforces — a deleted key, a detached policy, a removed role policy — the scenarios pass.
 */
import { describe, expect, test } from 'vitest';
import { describeConformance } from '../support/conformance.ts';

const conformance = describeConformance('aws', {
  expected: {
    'sts-assume-role-expiry': {
      verdict: 'fail',
      failedChecks: ['reuse-denied', 'credential-invalidated'],
      because: 'moto does not check the expiry of assumed-role keys',
    },
    'broker-exec-role': {
      verdict: 'fail',
      failedChecks: ['reuse-denied', 'broker-expiry-honoured'],
      because: "moto does not check the expiry of the reference broker's assumed-role session either",
    },
    'break-glass-role': {
      verdict: 'fail',
      failedChecks: ['reuse-denied', 'credential-invalidated'],
      because: 'moto does not check the expiry of the emergency session of the break-glass role either',
    },
    'sts-revoke-active-sessions': {
      verdict: 'fail',
      failedChecks: ['revocation-targeted'],
      because: 'moto does not evaluate aws:TokenIssueTime, so its revocation denies every session of the role',
    },
  },
});

function result(id: string) {
  const found = conformance.run().results.get(id);
  if (!found) throw new Error(`no result for ${id}`);
  return found;
}

describe('what the AWS results say beyond their verdicts', () => {
  test('an expired session moto still honours is reported with how long it stayed usable past its Expiration', () => {
    const expiry = result('sts-assume-role-expiry');
    expect(expiry.metrics.revocationLatencyMs).toBeNull();
    // Usable through the 1 s grace and the 4 s reuse deadline: at least 4 s past its stated expiry.
    expect(expiry.metrics.sessionOutlivedTtlMs).toBeGreaterThanOrEqual(4000);
    expect(expiry.checks.find((c) => c.name === 'reuse-denied')?.detail).toMatch(/still usable \d+ ms after the end/);
  });

  test('every scenario declares its audit trail not evidenced on the emulator, which keeps no CloudTrail', () => {
    for (const r of conformance.run().results.values()) {
      expect(r.evidence.some((e) => e.data?.notEvidenced === 'audit-trail' && /the embedded emulator keeps no CloudTrail/.test(e.event)), r.id).toBe(true);
    }
  });

  test("a deleted key's revocation latency, polled through IAM's eventual consistency, lands in the metrics", () => {
    const key = result('iam-temporary-access-key');
    expect(key.metrics.revocationLatencyMs).toEqual(expect.any(Number));
    expect(key.metrics.revocationLatencyMs!).toBeGreaterThanOrEqual(0);
    expect(key.metrics.revocationLatencyMs!).toBeLessThan(8000);
    expect(key.evidence.some((e) => e.phase === 'reuse' && /denied/.test(e.event))).toBe(true);
  });

  test('after revoking active sessions the control session issued later is recorded: moto denies it too (aws:TokenIssueTime not evaluated)', () => {
    const revoke = result('sts-revoke-active-sessions');
    expect(revoke.issued?.attributes.sessionIssuedAfterRevocation).toBe('denied');
    // The task's own session is dead all the same: the over-broad deny is a finding, not a reuse.
    expect(revoke.checks.find((c) => c.name === 'reuse-denied')?.verdict).toBe('pass');
    expect(revoke.evidence.some((e) => e.event.startsWith('control: a session issued after the revocation is denied too'))).toBe(true);
  });

  test('the scope granted is read from the role on the target, and the width follows from it', () => {
    const twin = result('privilege-width-twin');
    expect(twin.metrics.privilegeWidth).toBe(5);
    expect(twin.issued?.scopeGranted).toContain(`s3:PutObject arn:aws:s3:::jitc-${twin.runId}-privilege-width-twin/task/object.txt`);
    expect(result('privilege-width').metrics.privilegeWidth).toBe(1);
  });

  test('residue is scoped to each scenario: a twin leaving its key behind never shows in its original', () => {
    expect(result('iam-temporary-access-key-twin').residue).toEqual([expect.stringMatching(/^access-key:jitc-.*-iam-temporary-access-key-twin\.worker\/AKIA/)]);
    expect(result('iam-temporary-access-key').residue).toEqual([]);
  });

  test("every conformant scenario's holder is refused every way to extend its own grant, by AWS's own denial codes", () => {
    for (const id of ['iam-temporary-access-key', 'temporary-policy-binding', 'temporary-group-membership', 'sts-revoke-active-sessions', 'privilege-width', 'role-zero-standing-privilege']) {
      const check = result(id).checks.find((c) => c.name === 'holder-cannot-extend');
      expect(check?.verdict, `${id}: ${check?.detail}`).toBe('pass');
      expect(check?.detail, id).not.toMatch(/extended|unknown|unrecognised/);
      expect(check?.detail, id).toMatch(/refused \(.*HTTP 403 AccessDenied/);
    }
  });

  test('moto asks for sts:GetSessionToken, which AWS never does: a user key without it is refused there (on AWS the session would be judged by its reach)', () => {
    const check = result('iam-temporary-access-key').checks.find((c) => c.name === 'holder-cannot-extend');
    expect(check?.detail).toMatch(/GetSessionToken with the key \(a session of its own user\) \(inside-window\): refused \(GetSessionToken for 900 s: HTTP 403 AccessDenied: .* not authorized to perform: sts:GetSessionToken\)/);
  });

  test("the routine JIT identity is refused the break-glass role by moto's own AccessDenied, and a second emergency session while one is open is recorded", () => {
    const bg = result('break-glass-role');
    const isolated = bg.checks.find((c) => c.name === 'break-glass-isolated');
    expect(isolated?.verdict, isolated?.detail).toBe('pass');
    expect(isolated?.detail).toMatch(/HTTP 403 AccessDenied: User: arn:aws:iam::\d{12}:user\/jitc-.*break-glass-role\.identity is not authorized to perform: sts:AssumeRole/);
    expect(bg.checks.find((c) => c.name === 'zero-standing-privilege')?.detail).toMatch(/the break-glass identity's own key: HTTP 403 AccessDenied/);
    expect(bg.checks.map((c) => c.name)).not.toContain('break-glass-one-open');
    expect(bg.evidence.some((e) => e.event === 'repeated emergency use: emergency grant 2 issued while 1 is open' && e.data?.byJitc === true)).toBe(true);
    expect(bg.issued?.attributes.emergencyGrantsOpenAtOnce).toBe(2);
    // The further session cannot be ended alone: it is probed after the end like the first.
    expect(bg.checks.find((c) => c.name === 'reuse-denied')?.detail).toMatch(/further emergency session \(access key id ASIA/);
    expect(result('break-glass-role-twin').checks.find((c) => c.name === 'break-glass-isolated')?.verdict).toBe('pass');
  });

  test('results name keys by id only: no secret access key or session token', () => {
    const text = JSON.stringify([...conformance.run().results.values()]);
    expect(text).toMatch(/ASIA[A-Z0-9]{16}/);
    expect(text).not.toMatch(/"(secretAccessKey|sessionToken|SecretAccessKey|SessionToken)"/);
  });
});
