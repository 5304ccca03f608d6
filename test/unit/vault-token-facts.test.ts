/** What a token's own lookup states about it, as facts; an answer that is not its data is an error (adapters/vault/token-facts.ts). */
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { tokenFacts } from '../../adapters/vault/token-facts.ts';

// The token a lookup answers with: made here, so no token-shaped text sits in the file.
const TOKEN = randomBytes(18).toString('base64url');
const lookup = (data: Record<string, unknown>): unknown => ({
  data: {
    id: TOKEN,
    accessor: 'acc1',
    issue_time: '2026-01-01T10:00:00.123Z',
    expire_time: '2026-01-01T10:05:00.123Z',
    creation_ttl: 300,
    ttl: 290,
    renewable: true,
    period: 0,
    explicit_max_ttl: 300,
    num_uses: 0,
    orphan: false,
    policies: ['default', 'app-read'],
    type: 'service',
    ...data,
  },
});

describe('a token looked up with itself', () => {
  test('states its expiry, issue time and the lifetime it was given', () => {
    const facts = tokenFacts(lookup({}), 'acc1');
    expect(facts).toMatchObject({ expiresAt: '2026-01-01T10:05:00.123Z', issuedAt: '2026-01-01T10:00:00.123Z', ttlSeconds: 300 });
    expect(facts.attributes).toMatchObject({ accessor: 'acc1', renewable: true, explicitMaxTtlSeconds: 300, numUses: 0, orphan: false, policies: 'default,app-read', renewsWithoutEnd: false });
    expect(facts.detail).toBe('lookup-self: expires 2026-01-01T10:05:00.123Z, created with a TTL of 300 s, renewable, explicit max TTL 300 s, unlimited uses');
  });

  test('never carries the token itself (lookup-self answers it as `id`)', () => {
    expect(JSON.stringify(tokenFacts(lookup({}), 'acc1'))).not.toContain(TOKEN);
  });

  test('a token without expiry states no end and no lifetime', () => {
    expect(tokenFacts(lookup({ expire_time: null, creation_ttl: 0 }), 'acc1')).toMatchObject({ expiresAt: null, ttlSeconds: null });
  });

  test('a periodic renewable token without an explicit max is said to renew without end', () => {
    const facts = tokenFacts(lookup({ period: 60, explicit_max_ttl: 0 }), 'acc1');
    expect(facts.attributes.renewsWithoutEnd).toBe(true);
    expect(facts.detail).toContain('period 60 s (renews without end)');
  });

  test('an answer without the token\'s data is an error, not a fact', () => {
    expect(() => tokenFacts({ data: null }, 'acc1')).toThrow("lookup-self did not answer with the token's data");
    expect(() => tokenFacts('<html>', 'acc1')).toThrow("lookup-self did not answer with the token's data");
  });

  test('an answer for another accessor is an error, not a fact', () => {
    expect(() => tokenFacts(lookup({ accessor: 'other' }), 'acc1')).toThrow("answered for accessor other, not for the credential's own accessor acc1");
  });

  test('a batch token (no accessor) is read as it answers', () => {
    expect(tokenFacts(lookup({ accessor: '', type: 'batch' }), '').attributes.type).toBe('batch');
  });
});
