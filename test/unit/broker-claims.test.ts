/**
 * What a broker says is compared with what the target states and does, never taken on its word:
 * a stated expiry past the window, a target that grants longer than the broker says, an end the
 * target does not honour, an approval that came after the issue or before the request.
 */
import { describe, expect, test } from 'vitest';
import type { BrokerClaims, GrantRecord } from '../../adapters/contract.ts';
import { judgeApprovalChain, judgeBrokerStatedTtl, judgeClaimsAfterReuse, judgeClaimsAtIssue } from '../../scenarios/broker-claims.ts';
import { Evidence } from '../../scenarios/evidence.ts';
import type { ReuseObservation } from '../../scenarios/reuse-poll.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import type { CheckVerdict } from '../../scenarios/verdict.ts';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const iso = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

function claims(over: Partial<BrokerClaims> = {}): BrokerClaims {
  return { requestedAt: iso(0), requestId: 'REQ-1', approver: 'change-bot', approvedAt: iso(0.5), expiresAt: iso(30), ...over };
}

function record(over: Partial<GrantRecord> = {}): GrantRecord {
  return { credentialId: 'vault-token acc-1', issuedAt: iso(1), expiresAt: iso(31), ttlRequestedSeconds: 30, ttlGrantedSeconds: 30, scopeGranted: [], attributes: {}, handles: [], extensions: [], ...over };
}

function collect(): { add: (n: string, v: CheckVerdict, d: string) => void; seen: Record<string, { verdict: CheckVerdict; detail: string }> } {
  const seen: Record<string, { verdict: CheckVerdict; detail: string }> = {};
  return { seen, add: (name, verdict, detail) => void (seen[name] = { verdict, detail }) };
}

function observation(verdict: CheckVerdict, detail: string): ReuseObservation {
  return { handle: 'credential', check: 'reuse-denied', attempts: [], revokedAt: undefined, lastAllowed: undefined, verdict, detail };
}

describe('at issue', () => {
  test('a stated expiry within the window passes; past it, or none, fails', () => {
    const ok = collect();
    judgeClaimsAtIssue(claims(), record(), 30, ok.add);
    expect(ok.seen['broker-expiry-within-window']?.verdict).toBe('pass');
    const long = collect();
    judgeClaimsAtIssue(claims({ expiresAt: iso(300) }), record(), 30, long.add);
    expect(long.seen['broker-expiry-within-window']).toMatchObject({ verdict: 'fail', detail: expect.stringMatching(/270 s past the approval window of 30 s/) });
    const none = collect();
    judgeClaimsAtIssue(claims({ expiresAt: null }), record(), 30, none.add);
    expect(none.seen['broker-expiry-within-window']?.verdict).toBe('fail');
  });

  test('a target that lets the credential live longer than the broker says fails broker-expiry-honoured', () => {
    const under = collect();
    judgeClaimsAtIssue(claims({ target: { expiresAt: iso(90), detail: 'lookup-self: ttl 90 s' } }), record(), 30, under.add);
    expect(under.seen['broker-expiry-honoured']).toMatchObject({ verdict: 'fail', detail: expect.stringMatching(/60 s past the expiry the broker states/) });
    const endless = collect();
    judgeClaimsAtIssue(claims({ target: { expiresAt: null, detail: 'periodic token' } }), record(), 30, endless.add);
    expect(endless.seen['broker-expiry-honoured']?.verdict).toBe('fail');
    const agreed = collect();
    judgeClaimsAtIssue(claims({ target: { expiresAt: iso(30.4), detail: 'lookup-self' } }), record(), 30, agreed.add);
    expect(agreed.seen['broker-expiry-honoured']?.verdict).toBe('pass');
  });

  test('a TTL only the broker states is proven only by a wait: inconclusive when the grant is revoked first', () => {
    const revoked = collect();
    judgeBrokerStatedTtl(record(), 30, 'revoke', revoked.add);
    expect(revoked.seen['ttl-bounded']?.verdict).toBe('inconclusive');
    const waited = collect();
    judgeBrokerStatedTtl(record(), 30, 'expire', waited.add);
    expect(waited.seen['ttl-bounded']?.verdict).toBe('pass');
    const admitted = collect();
    judgeBrokerStatedTtl(record({ ttlGrantedSeconds: 3600 }), 30, 'revoke', admitted.add);
    expect(admitted.seen['ttl-bounded']?.verdict).toBe('fail');
  });
});

describe('after the end', () => {
  test('"ended" with the credential still accepted fails broker-end-honoured; "not ended" fails it too', () => {
    const lied = collect();
    judgeClaimsAfterReuse(claims({ ended: { ended: true, at: iso(10), detail: 'revoked' } }), 'revoke', [observation('fail', 'allowed 5000 ms after the end')], T0 + 10_000, lied.add);
    expect(lied.seen['broker-end-honoured']).toMatchObject({ verdict: 'fail', detail: expect.stringMatching(/yet the target still accepted the credential/) });
    const kept = collect();
    judgeClaimsAfterReuse(claims({ ended: { ended: false, at: iso(10), detail: 'kept' } }), 'revoke', [observation('pass', 'denied')], T0 + 10_000, kept.add);
    expect(kept.seen['broker-end-honoured']?.verdict).toBe('fail');
    const honest = collect();
    judgeClaimsAfterReuse(claims({ ended: { ended: true, at: iso(10), detail: 'revoked' } }), 'revoke', [observation('pass', 'denied 300 ms after the end')], T0 + 10_000, honest.add);
    expect(honest.seen['broker-end-honoured']?.verdict).toBe('pass');
  });

  test('in expire mode the credential must be refused from the broker stated expiry; unknown stays unknown', () => {
    const outlived = collect();
    judgeClaimsAfterReuse(claims(), 'expire', [observation('fail', 'allowed 4000 ms after the end')], T0 + 30_000, outlived.add);
    expect(outlived.seen['broker-expiry-honoured']).toMatchObject({ verdict: 'fail', detail: expect.stringMatching(/judged from the broker's stated expiry/) });
    const doubt = collect();
    judgeClaimsAfterReuse(claims(), 'expire', [observation('inconclusive', 'ECONNREFUSED')], T0 + 30_000, doubt.add);
    expect(doubt.seen['broker-expiry-honoured']?.verdict).toBe('inconclusive');
  });
});

describe('the approval chain', () => {
  const evidence = (): Evidence => new Evidence(new SecretRegistry());

  test('in order and complete passes, and is recorded', () => {
    const seen = collect();
    const e = evidence();
    judgeApprovalChain({ claims: claims(), issuedAt: iso(1), firstUseAt: iso(2), endedAt: T0 + 10_000 }, e, seen.add);
    expect(seen.seen['approval-chain-recorded']?.verdict).toBe('pass');
    expect(e.events.some((ev) => ev.event === 'approval chain')).toBe(true);
  });

  test('issued before its approval, approved before the request, or no approver: fail', () => {
    for (const [over, issuedAt, why] of [
      [{ approvedAt: iso(20) }, iso(1), /before its approval/],
      [{ approvedAt: iso(-3600) }, iso(1), /before the request was sent/],
      [{ approver: null }, iso(1), /did not state the approver/],
    ] as const) {
      const seen = collect();
      judgeApprovalChain({ claims: claims(over), issuedAt, firstUseAt: iso(2), endedAt: T0 + 10_000 }, evidence(), seen.add);
      expect(seen.seen['approval-chain-recorded']).toMatchObject({ verdict: 'fail', detail: expect.stringMatching(why) });
    }
  });
});
