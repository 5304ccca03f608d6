/**
 * What Vault states about a token it is asked about with the token itself (`auth/token/lookup-self`),
 * as {@link CredentialFacts}: its expiry and issue time on Vault's own clock, the lifetime it was
 * given, and what bears on how far it can be stretched (renewable, period, explicit max TTL, uses,
 * orphan, policies). Pure: the lookup is made by the point of use (points/kv-secret.ts).
 *
 * An answer that is not the token's own data is an error, never a fact: no `data`, no issue time,
 * or data for another accessor than the credential's. The answer's `id` is the token itself and is
 * never copied.
 */
import type { CredentialFacts } from '../contract.ts';

/** The lookup-self fields read here; anything else Vault adds is ignored. */
interface LookupSelf {
  accessor?: unknown;
  issue_time?: unknown;
  expire_time?: unknown;
  creation_ttl?: unknown;
  ttl?: unknown;
  renewable?: unknown;
  period?: unknown;
  explicit_max_ttl?: unknown;
  num_uses?: unknown;
  orphan?: unknown;
  policies?: unknown;
  type?: unknown;
  role?: unknown;
}

const numberOr = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);

export function tokenFacts(answer: unknown, accessor: string): CredentialFacts {
  const data = (answer && typeof answer === 'object' ? (answer as { data?: unknown }).data : undefined) as LookupSelf | null | undefined;
  if (!data || typeof data !== 'object' || typeof data.issue_time !== 'string') {
    throw new Error("lookup-self did not answer with the token's data (no data, or no issue_time in it)");
  }
  const stated = typeof data.accessor === 'string' ? data.accessor : '';
  if (accessor !== '' && stated !== accessor) {
    throw new Error(`lookup-self answered for accessor ${stated || '(none)'}, not for the credential's own accessor ${accessor}`);
  }
  const expiresAt = typeof data.expire_time === 'string' && data.expire_time !== '' ? new Date(data.expire_time).toISOString() : null;
  const creationTtl = numberOr(data.creation_ttl, 0);
  const period = numberOr(data.period, 0);
  const explicitMax = numberOr(data.explicit_max_ttl, 0);
  const renewable = data.renewable === true;
  const renewsWithoutEnd = renewable && period > 0 && explicitMax === 0;
  const policies = Array.isArray(data.policies) ? data.policies.filter((p): p is string => typeof p === 'string') : [];
  const numUses = numberOr(data.num_uses, 0);
  const attributes: CredentialFacts['attributes'] = {
    accessor: stated,
    type: typeof data.type === 'string' ? data.type : null,
    renewable,
    periodSeconds: period,
    explicitMaxTtlSeconds: explicitMax,
    numUses,
    orphan: data.orphan === true,
    policies: policies.join(','),
    renewsWithoutEnd,
    ...(typeof data.role === 'string' && data.role !== '' ? { role: data.role } : {}),
  };
  const end = expiresAt === null ? 'no expiry' : `expires ${expiresAt}`;
  const parts = [
    `lookup-self: ${end}`,
    `created with a TTL of ${creationTtl} s`,
    renewable ? 'renewable' : 'not renewable',
    explicitMax > 0 ? `explicit max TTL ${explicitMax} s` : 'no explicit max TTL',
    ...(period > 0 ? [`period ${period} s${renewsWithoutEnd ? ' (renews without end)' : ''}`] : []),
    numUses === 0 ? 'unlimited uses' : `${numUses} uses`,
    ...(data.orphan === true ? ['orphan'] : []),
  ];
  return { expiresAt, issuedAt: new Date(data.issue_time).toISOString(), ttlSeconds: expiresAt === null ? null : creationTtl, attributes, detail: parts.join(', ') };
}
