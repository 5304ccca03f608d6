/**
 * What each LDAP half declares it can produce: every id is in the control catalogue, the audit
 * check is the point of use's on every directory scenario (AU-12), whoever granted,
 * holder-cannot-extend exactly when a grant source's grants carry extension attempts, and the
 * session check exactly when the point of use keeps a session open.
 */
import { describe, expect, test } from 'vitest';
import { dynamicAccountSource } from '../../adapters/ldap/grants/dynamic-account.ts';
import { groupMembershipSource } from '../../adapters/ldap/grants/group-membership.ts';
import { entryPoint } from '../../adapters/ldap/points/entry.ts';
import { checkDefinition } from '../../scenarios/catalogue.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';

const account = (p: Record<string, unknown>) => dynamicAccountSource.checks(dynamicAccountSource.params.parse({ ttlSeconds: 3, ...p }));
const membership = (p: Record<string, unknown>) => groupMembershipSource.checks(groupMembershipSource.params.parse({ ttlSeconds: 30, ...p }));
const entry = (p: Record<string, unknown>) => entryPoint.checks(entryPoint.params.parse(p));

describe('checks the LDAP grant sources and point of use declare', () => {
  test('every declared id is a catalogue check', () => {
    const all = [...account({}), ...membership({}), ...entry({ keepSessionOpen: true })];
    for (const id of all) expect(() => checkDefinition(id), id).not.toThrow();
  });

  test('every directory scenario declares audit-trail through its point of use, which evidences NIST AU-12', async () => {
    const scenarios = await loadBuiltinScenarios(['ldap']);
    for (const scenario of scenarios.filter((s) => s.use.name === 'entry')) expect(entryPoint.checks(entryPoint.params.parse(scenario.use.params)), scenario.id).toContain('audit-trail');
    expect(scenarios.filter((s) => s.use.name !== 'entry').map((s) => s.id)).toEqual([]);
    expect(checkDefinition('audit-trail').controls).toContain('NIST-800-53-AU-12');
    // One way to judge it: the grant sources no longer declare or take an audit mode.
    expect(membership({})).not.toContain('audit-trail');
    expect(() => groupMembershipSource.params.parse({ ttlSeconds: 30, audit: 'judge' })).toThrow();
  });

  test('holder-cannot-extend is declared where the grant carries attempts: a dynamic account, every membership', () => {
    expect(account({})).toContain('holder-cannot-extend');
    expect(account({ dynamic: false })).not.toContain('holder-cannot-extend');
    expect(membership({})).toContain('holder-cannot-extend');
    expect(membership({ membership: 'static' })).toContain('holder-cannot-extend');
  });

  test('the session check is declared only where a session is kept open', () => {
    expect(entry({ keepSessionOpen: true })).toContain('session-ended-with-task');
    expect(entry({})).not.toContain('session-ended-with-task');
    expect(account({})).not.toContain('session-ended-with-task');
    expect(membership({})).not.toContain('session-ended-with-task');
  });
});
