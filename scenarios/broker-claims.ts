/**
 * A user's broker says things about its grants — who approved and when, when the grant expires,
 * that it ended it. None of that is a verdict: here each claim is compared with what the target
 * stated and did, by the same rules for every broker (README.md, "What jitc checks of a broker").
 */
import { BROKER_CHECKS, type BrokerClaims, type EndMode, type GrantRecord } from '../adapters/contract.ts';
import type { Evidence } from './evidence.ts';
import type { ReuseObservation } from './reuse-poll.ts';
import { type CheckVerdict, worstOf } from './verdict.ts';

type AddCheck = (name: string, verdict: CheckVerdict, detail: string) => void;

/** Rounding allowed between two statements of one instant (seconds-precision clocks). */
const ROUNDING_MS = 1000;
/** Clock difference allowed between the broker and jitc when ordering the approval chain. */
export const CHAIN_SKEW_MS = 2000;

/** The checks a brokered grant source's scenarios produce beyond its own, for this end mode. */
export function brokerChecks(mode: EndMode): string[] {
  return [...BROKER_CHECKS.always, ...BROKER_CHECKS[mode]];
}

const at = (iso: string | null): number => (iso === null ? Number.POSITIVE_INFINITY : Date.parse(iso));

/**
 * The TTL the engine judges when the target states nothing about the credential: the broker's
 * word, which only an expiry the run waits for can prove.
 */
export function judgeBrokerStatedTtl(record: GrantRecord, windowSeconds: number, mode: EndMode, addCheck: AddCheck): void {
  const stated = record.ttlGrantedSeconds;
  const whose = 'as the broker states it (the target states nothing about this credential)';
  if (stated === null) return addCheck('ttl-bounded', 'fail', `the broker states no expiry for ${record.credentialId}, and the target states none; approval window is ${windowSeconds} s`);
  if (stated > windowSeconds + ROUNDING_MS / 1000) return addCheck('ttl-bounded', 'fail', `TTL ${stated} s ${whose} exceeds the approval window of ${windowSeconds} s`);
  if (mode === 'expire') return addCheck('ttl-bounded', 'pass', `TTL ${stated} s ${whose} within the approval window of ${windowSeconds} s; the wait for that expiry below proves it`);
  addCheck('ttl-bounded', 'inconclusive', `TTL ${stated} s ${whose}: the grant was revoked before it could expire, so the target never showed it; run this broker in expire mode to judge its TTL`);
}

/** At issue: the broker's stated expiry against the window, and against what the target states. */
export function judgeClaimsAtIssue(claims: BrokerClaims, record: GrantRecord, windowSeconds: number, addCheck: AddCheck): void {
  const from = claims.approvedAt ?? record.issuedAt;
  const windowEnd = Date.parse(from) + windowSeconds * 1000;
  if (claims.expiresAt === null) {
    addCheck('broker-expiry-within-window', 'fail', `the broker states no expiry for the grant; the approval window is ${windowSeconds} s`);
  } else {
    const over = Date.parse(claims.expiresAt) - windowEnd;
    addCheck(
      'broker-expiry-within-window',
      over > ROUNDING_MS ? 'fail' : 'pass',
      over > ROUNDING_MS
        ? `the broker states the grant expires at ${claims.expiresAt}, ${Math.round(over / 1000)} s past the approval window of ${windowSeconds} s from ${from}`
        : `the broker states the grant expires at ${claims.expiresAt}, within the approval window of ${windowSeconds} s from ${from}`,
    );
  }
  if (!claims.target || claims.expiresAt === null) return;
  const target = claims.target.expiresAt;
  const later = at(target) - Date.parse(claims.expiresAt);
  addCheck(
    'broker-expiry-honoured',
    later > ROUNDING_MS ? 'fail' : 'pass',
    later > ROUNDING_MS
      ? `the target lets the credential live ${target === null ? 'with no end' : `until ${target}, ${Math.round(later / 1000)} s`} past the expiry the broker states (${claims.expiresAt}) (${claims.target.detail})`
      : `the target's own expiry (${target}) is no later than the broker states (${claims.expiresAt})`,
  );
}

/**
 * After the reuse poll: what the broker said about the end against what the target did with the
 * credential itself (the grant's first handle).
 */
export function judgeClaimsAfterReuse(claims: BrokerClaims, mode: EndMode, credential: ReuseObservation[], judgedAt: number, addCheck: AddCheck): void {
  if (credential.length === 0) return;
  const verdict = worstOf(credential.map((o) => o.verdict)) as CheckVerdict;
  const seen = credential.map((o) => o.detail).join('; ');
  if (mode === 'expire' && claims.expiresAt !== null) {
    const brokerEnd = Date.parse(claims.expiresAt);
    const basis = judgedAt < brokerEnd - ROUNDING_MS ? `judged at the approval window's end, before the broker's stated expiry ${claims.expiresAt}` : `judged from the broker's stated expiry ${claims.expiresAt}`;
    addCheck('broker-expiry-honoured', verdict, verdict === 'fail' ? `the credential still worked after the expiry (${basis}): ${seen}` : `${basis}: ${seen}`);
  }
  if (mode === 'revoke' && claims.ended) {
    const { ended, at: endedAt, detail } = claims.ended;
    if (!ended) addCheck('broker-end-honoured', 'fail', `at task end the broker answered that it did not end the grant (${detail})`);
    else addCheck('broker-end-honoured', verdict, verdict === 'fail' ? `the broker said the grant ended at ${endedAt} (${detail}), yet the target still accepted the credential: ${seen}` : `the broker said the grant ended at ${endedAt} (${detail}); the target agrees: ${seen}`);
  }
}

export interface ChainLinks {
  claims: BrokerClaims;
  issuedAt: string;
  firstUseAt: string | undefined;
  endedAt: number | undefined;
}

/** request → approval → issue → first use → end, with the broker's request id, recorded and in order. */
export function judgeApprovalChain({ claims, issuedAt, firstUseAt, endedAt }: ChainLinks, evidence: Evidence, addCheck: AddCheck): void {
  const chain = {
    requested: claims.requestedAt,
    requestId: claims.requestId,
    approvedBy: claims.approver,
    approvedAt: claims.approvedAt,
    issuedAt,
    firstUseAt: firstUseAt ?? null,
    endedAt: endedAt === undefined ? null : new Date(endedAt).toISOString(),
  };
  evidence.record('approval chain', chain);
  const missing = [!claims.requestId && 'request id', !claims.approver && 'approver', !claims.approvedAt && 'approval time'].filter((m): m is string => typeof m === 'string');
  if (missing.length > 0) return addCheck('approval-chain-recorded', 'fail', `the broker did not state the ${missing.join(', ')} of request ${claims.requestId ?? '(none)'}`);
  const approved = Date.parse(claims.approvedAt!);
  const problems: string[] = [];
  if (approved < Date.parse(claims.requestedAt) - CHAIN_SKEW_MS) problems.push(`approved at ${claims.approvedAt}, before the request was sent at ${claims.requestedAt}: not an approval of this task`);
  if (Date.parse(issuedAt) < approved - CHAIN_SKEW_MS) problems.push(`issued at ${issuedAt}, before its approval at ${claims.approvedAt}`);
  if (problems.length > 0) return addCheck('approval-chain-recorded', 'fail', problems.join('; '));
  if (!firstUseAt || endedAt === undefined) return addCheck('approval-chain-recorded', 'inconclusive', 'the chain was not followed to its end: the grant was never used or never ended');
  addCheck('approval-chain-recorded', 'pass', `request ${claims.requestId}: requested ${claims.requestedAt}, approved by ${claims.approver} at ${claims.approvedAt}, issued ${issuedAt}, first used ${firstUseAt}, ended ${chain.endedAt}`);
}
