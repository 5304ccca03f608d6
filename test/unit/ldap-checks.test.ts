/**
 * What each LDAP half declares it can produce: every id is in the control catalogue, the audit
 * check appears exactly when a scenario judges the audit trail (ldap/audit-trail: AU-12),
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
    const all = [...account({ audit: 'judge' }), ...membership({ audit: 'judge' }), ...entry({ keepSessionOpen: true })];
    for (const id of all) expect(() => checkDefinition(id), id).not.toThrow();
  });

  test('ldap/audit-trail declares audit-trail, which evidences NIST AU-12', async () => {
    const scenario = (await loadBuiltinScenarios(['ldap'])).find((s) => s.id === 'audit-trail') ?? expect.unreachable('no audit-trail scenario');
    expect([scenario.grant.name, scenario.use.name]).toEqual(['group-membership', 'entry']);
    const declared = [
      ...groupMembershipSource.checks(groupMembershipSource.params.parse(scenario.grant.params)),
      ...entryPoint.checks(entryPoint.params.parse(scenario.use.params)),
    ];
    expect(declared).toContain('audit-trail');
    expect(checkDefinition('audit-trail').controls).toContain('NIST-800-53-AU-12');
    expect(membership({ audit: 'attach' })).not.toContain('audit-trail');
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
