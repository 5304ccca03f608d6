/**
 * What `--suite NAME` selects: a suite is the scenarios of its point of use. OpenBao issues the
 * grants of the PostgreSQL and SSH scenarios, but `--suite vault` is the Vault suite alone (a user
 * with only a Vault must be able to run it); a broker, which has no suite of its own, selects the
 * scenarios it grants.
 */
import { describe, expect, test } from 'vitest';
import { loadAdapters } from '../../adapters/registry.ts';
import { inSuites, loadBuiltinScenarios, suitedAdapters } from '../../scenarios/load.ts';

const scenarios = await loadBuiltinScenarios();
const suited = suitedAdapters((await loadAdapters()).values());
const selected = (...suites: string[]): string[] => scenarios.filter((s) => inSuites(s, suites, suited)).map((s) => `${s.adapter}/${s.id}`);

describe('--suite', () => {
  test('vault selects the scenarios used at Vault, none whose grant OpenBao issues for another point of use', () => {
    expect(selected('vault').length).toBeGreaterThan(0);
    expect(selected('vault').every((id) => id.startsWith('vault/'))).toBe(true);
  });

  test('postgres and ssh select their own scenarios, granted by OpenBao', () => {
    expect(selected('postgres')).toEqual(expect.arrayContaining(['postgres/db-lease-expiry', 'postgres/pki-cert-revoke']));
    expect(selected('ssh')).toEqual(['ssh/ssh-cert-expiry']);
  });

  test('a broker, with no suite of its own, selects the scenarios it grants, in the suites of their points of use', () => {
    expect(suited.has('broker')).toBe(false);
    expect(selected('broker')).toEqual(expect.arrayContaining(['vault/broker-exec-token', 'ldap/broker-exec-group', 'aws/broker-exec-role']));
    expect(selected('broker').every((id) => /\/broker-/.test(id))).toBe(true);
  });
});
