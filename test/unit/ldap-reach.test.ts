/** A DN's privilege ends when its longest-living path into the grant group ends (adapters/ldap/reach.ts). */
import { describe, expect, test } from 'vitest';
import { type PathLifetime, type Reach, reachFacts } from '../../adapters/ldap/reach.ts';

const GROUP = 'cn=readers,ou=groups,dc=x';
const DN = 'cn=app,ou=accounts,dc=x';
const path = (via: string, endsAt: string | null, ttlSeconds: number | null = endsAt === null ? null : 30): PathLifetime => ({
  chain: [GROUP, via, DN],
  endsAt,
  boundBy: endsAt === null ? null : via,
  ttlSeconds,
  ...(endsAt === null ? {} : { createdAt: '2026-01-01T10:00:00.000Z' }),
});
const reach = (paths: PathLifetime[], own: Reach['own'] = null): Reach => ({ dn: DN, grantGroup: GROUP, paths, own, dynamicEntries: [], groups: [GROUP] });

describe('the privilege a DN holds through memberships', () => {
  test('no path: the directory states nothing', () => {
    expect(reachFacts(reach([]))).toBeUndefined();
  });

  test('one path through a dynamic group ends with that group', () => {
    const facts = reachFacts(reach([path('cn=grant', '2026-01-01T10:00:30.000Z')]))!;
    expect(facts).toMatchObject({ expiresAt: '2026-01-01T10:00:30.000Z', ttlSeconds: 30, issuedAt: '2026-01-01T10:00:00.000Z' });
    expect(facts.detail).toContain(`the longest path ends 2026-01-01T10:00:30.000Z with cn=grant (30 s): ${GROUP} <- cn=grant <- ${DN}`);
  });

  test('of two dynamic paths, the longest-living one bounds it', () => {
    const facts = reachFacts(reach([path('cn=short', '2026-01-01T10:00:10.000Z', 10), path('cn=long', '2026-01-01T10:01:00.000Z', 60)]))!;
    expect(facts).toMatchObject({ expiresAt: '2026-01-01T10:01:00.000Z', ttlSeconds: 60 });
  });

  test('a static path beside a dynamic one never ends', () => {
    const facts = reachFacts(reach([path('cn=grant', '2026-01-01T10:00:30.000Z'), path('cn=team', null)]))!;
    expect(facts).toMatchObject({ expiresAt: null, ttlSeconds: null, attributes: { paths: 2, staticPaths: 1 } });
    expect(facts.detail).toContain(`a static path never ends: ${GROUP} <- cn=team <- ${DN}`);
  });

  test('a dynamic account bounds every path, static ones included', () => {
    const own = { createdAt: '2026-01-01T09:59:00.000Z', ttlSeconds: 20, expiresAt: '2026-01-01T10:00:20.000Z' };
    const facts = reachFacts(reach([path('cn=team', null)], own))!;
    expect(facts).toMatchObject({ expiresAt: '2026-01-01T10:00:20.000Z', ttlSeconds: 20, issuedAt: '2026-01-01T09:59:00.000Z', attributes: { dynamicAccount: true } });
    expect(facts.detail).toContain('the account itself is a dynamic entry ending 2026-01-01T10:00:20.000Z, which bounds every path');
  });

  test('a dynamic account outliving its paths does not stretch them', () => {
    const own = { createdAt: '2026-01-01T09:59:00.000Z', ttlSeconds: 3600, expiresAt: '2026-01-01T11:00:00.000Z' };
    expect(reachFacts(reach([path('cn=grant', '2026-01-01T10:00:30.000Z')], own))!.expiresAt).toBe('2026-01-01T10:00:30.000Z');
  });
});
