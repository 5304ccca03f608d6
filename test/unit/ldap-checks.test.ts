/**
 * What each LDAP mechanism declares it can produce: every id is in the control catalogue, the
 * audit check appears exactly when a scenario judges the audit trail (ldap/audit-trail: AU-12),
 * and holder-cannot-extend exactly when its grants carry extension attempts.
 */
import { describe, expect, test } from 'vitest';
import { dynamicAccountMechanism } from '../../adapters/ldap/mechanisms/dynamic-account.ts';
import { groupMembershipMechanism } from '../../adapters/ldap/mechanisms/group-membership.ts';
import { checkDefinition } from '../../scenarios/catalogue.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';

const account = (p: Record<string, unknown>) => dynamicAccountMechanism.checks(dynamicAccountMechanism.params.parse({ ttlSeconds: 3, ...p }));
const membership = (p: Record<string, unknown>) => groupMembershipMechanism.checks(groupMembershipMechanism.params.parse({ ttlSeconds: 30, ...p }));

describe('checks the LDAP mechanisms declare', () => {
  test('every declared id is a catalogue check', () => {
    const all = [...account({ audit: 'judge', keepSessionOpen: true }), ...membership({ audit: 'judge', keepSessionOpen: true })];
    for (const id of all) expect(() => checkDefinition(id), id).not.toThrow();
  });

  test('ldap/audit-trail declares audit-trail, which evidences NIST AU-12', async () => {
    const scenario = (await loadBuiltinScenarios(['ldap'])).find((s) => s.id === 'audit-trail') ?? expect.unreachable('no audit-trail scenario');
    const declared = groupMembershipMechanism.checks(groupMembershipMechanism.params.parse(scenario.params));
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
    expect(account({ keepSessionOpen: true })).toContain('session-ended-with-task');
    expect(account({})).not.toContain('session-ended-with-task');
    expect(membership({})).not.toContain('session-ended-with-task');
  });
});
