/**
 * `jitc list` prints each scenario's own checks and controls, from what its two halves declare:
 * never one list for all, and every declared check is one the catalogue knows.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { loadCatalogue } from '../../scenarios/catalogue.ts';
import { jitc } from '../support/cli.ts';

interface Listed {
  id: string;
  adapter: string;
  grant: { adapter: string; source: string };
  pointOfUse: string;
  checks: string[];
  controls: string[];
}

describe('jitc list', () => {
  const listed = JSON.parse(jitc(['list', '--json']).stdout) as Listed[];
  const find = (adapter: string, id: string): Listed => {
    const r = listed.find((s) => s.adapter === adapter && s.id === id);
    if (!r) throw new Error(`${adapter}/${id} not listed`);
    return r;
  };

  test('shows each scenario its own checks: not the same list for every scenario', () => {
    expect(new Set(listed.map((s) => s.checks.join(','))).size).toBeGreaterThan(3);
  });

  test('the directory audit-trail scenario shows its audit-trail check and AU-12', () => {
    const audit = find('ldap', 'audit-trail');
    expect(audit.checks).toContain('audit-trail');
    expect(audit.controls).toContain('NIST-800-53-AU-12');
  });

  test('a scenario that holds a session open shows session-ended-with-task; one that does not, does not', () => {
    expect(find('ldap', 'open-session-outlives-grant').checks).toContain('session-ended-with-task');
    expect(find('ldap', 'dynamic-account-ttl').checks).not.toContain('session-ended-with-task');
  });

  test('the session-revocation scenario shows revocation-targeted; a key scenario does not', () => {
    expect(find('aws', 'sts-revoke-active-sessions').checks).toContain('revocation-targeted');
    expect(find('aws', 'iam-temporary-access-key').checks).not.toContain('revocation-targeted');
  });

  test('every adapter declares holder-cannot-extend for the credentials it hands out', () => {
    for (const adapter of ['vault', 'aws', 'ldap']) {
      expect(listed.filter((s) => s.adapter === adapter).some((s) => s.checks.includes('holder-cannot-extend')), adapter).toBe(true);
    }
  });

  test('each scenario names both halves: the grant source (with its adapter) and the point of use', () => {
    expect(find('vault', 'token-ttl-expiry')).toMatchObject({ grant: { adapter: 'vault', source: 'token' }, pointOfUse: 'kv-secret' });
    for (const s of listed) {
      expect(s.grant.source, `${s.adapter}/${s.id}`).not.toBe('');
      expect(s.pointOfUse, `${s.adapter}/${s.id}`).not.toBe('');
    }
  });

  test('docs/checks.md is what `jitc list --checks` prints from the declarations today', () => {
    expect(readFileSync(join(PROJECT_ROOT, 'docs', 'checks.md'), 'utf8'), 'regenerate with ./bin/jitc list --checks > docs/checks.md').toBe(jitc(['list', '--checks']).stdout);
  });

  test('docs/broker-answer.schema.json is what `jitc list --broker-schema` prints', () => {
    expect(readFileSync(join(PROJECT_ROOT, 'docs', 'broker-answer.schema.json'), 'utf8'), 'regenerate with ./bin/jitc list --broker-schema > docs/broker-answer.schema.json').toBe(
      jitc(['list', '--broker-schema']).stdout,
    );
  });

  test("every check lists the built-in scenarios (or, for the user's own objects, the examples) that produce it, and its remediation", () => {
    const checks = JSON.parse(jitc(['list', '--checks', '--json']).stdout) as { id: string; remediation: string; scenarios: string[]; examples: string[]; lifecycle: boolean }[];
    const targeted = checks.find((c) => c.id === 'revocation-targeted')?.scenarios;
    expect(targeted).toContain('aws/sts-revoke-active-sessions');
    expect(targeted).not.toContain('aws/iam-temporary-access-key');
    expect(checks.find((c) => c.id === 'role-within-window')?.examples).toContain('examples/existing/vault-token-role.yaml');
    for (const c of checks) {
      expect(c.remediation.length, c.id).toBeGreaterThan(20);
      expect(c.lifecycle || c.scenarios.length > 0 || c.examples.length > 0, `${c.id} is produced by no built-in scenario and no example`).toBe(true);
    }
  });

  test('every listed check is in the control catalogue', () => {
    const known = loadCatalogue().checks;
    for (const s of listed) for (const c of s.checks) expect(known.has(c), `${s.adapter}/${s.id}: ${c}`).toBe(true);
  });
});
