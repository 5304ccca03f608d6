/**
 * `jitc cleanup` sweeps an issuer's target before the targets its credentials are used on: a Vault
 * LDAP or database engine is unmounted while the accounts its leases made still exist, so its own
 * revocation deletes them instead of failing on an account the directory's sweep already removed.
 */
import { describe, expect, test } from 'vitest';
import { loadAdapters } from '../../adapters/registry.ts';
import { sweepOrder } from '../../cli/cleanup.ts';

type Shape = Parameters<typeof sweepOrder>[0][number];
const shape = (name: string, issues: string[], accepts: string[]): Shape =>
  ({ name, grantSources: { s: { issues } }, pointsOfUse: { p: { accepts } } }) as unknown as Shape;

describe('cleanup sweep order', () => {
  test('the built-in adapters: each issuer before every target its credentials are used on', async () => {
    const order = sweepOrder([...(await loadAdapters()).values()]).map((a) => a.name);
    const before = (a: string, b: string): boolean => order.indexOf(a) < order.indexOf(b);
    for (const used of ['ldap', 'postgres', 'ssh']) expect(before('vault', used), order.join(' ')).toBe(true);
    expect(before('idp', 'vault'), order.join(' ')).toBe(true);
    expect(order[0]).toBe('broker');
    expect([...order].sort()).toEqual([...(await loadAdapters()).keys()].sort());
  });

  test('unrelated adapters keep their order; a cycle is broken at the first of it', () => {
    const a = shape('a', ['x'], ['x']);
    const b = shape('b', ['y'], ['x']);
    const c = shape('c', [], ['y']);
    expect(sweepOrder([c, b, a]).map((s) => s.name)).toEqual(['a', 'b', 'c']);
    const p = shape('p', ['x'], ['y']);
    const q = shape('q', ['y'], ['x']);
    expect(sweepOrder([q, p, c]).map((s) => s.name)).toEqual(['q', 'p', 'c']);
  });
});
