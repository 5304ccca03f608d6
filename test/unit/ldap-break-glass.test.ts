/**
 * The directory's break-glass path as configuration and parameters: the local slapd grants the
 * break-glass group the read and lets only its operators write its member; the source declares
 * the isolation check always and the one-open check only with `maxOpen`; a user's own path takes
 * no broken setup that would change its ACL.
 */
import { describe, expect, test } from 'vitest';
import { breakGlassSource } from '../../adapters/ldap/grants/break-glass.ts';
import { localLayout } from '../../adapters/ldap/layout.ts';
import { seedLdif, slapdConf } from '../../adapters/ldap/slapd-config.ts';
import { checkDefinition } from '../../scenarios/catalogue.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';

const layout = localLayout();
const paths = { dataDir: '/d', pidFile: '/p', argsFile: '/a', modulePath: '/m', schemaDir: '/s' };

describe('the local break-glass path', () => {
  test('the break-glass group reads the protected attribute, and only its operators write its member', () => {
    const conf = slapdConf(layout, paths, '{SSHA}x');
    expect(conf).toContain(`by set="[${layout.breakGlassGroupDn}]/member* & user" read`);
    expect(conf).toContain(`access to dn.base="${layout.breakGlassGroupDn}" attrs=member\n  by set="[${layout.breakGlassOperatorsDn}]/member & user" write\n  by users read\n  by * none`);
    // Before the catch-all that lets users read: slapd takes the first rule that matches.
    expect(conf.indexOf(`access to dn.base="${layout.breakGlassGroupDn}"`)).toBeLessThan(conf.lastIndexOf('access to *\n'));
    const seed = seedLdif(layout, 'secret', { o: 'jitc', dc: 'jitc' });
    expect(seed).toContain(`dn: ${layout.breakGlassGroupDn}`);
    expect(seed).toContain(`dn: ${layout.breakGlassOperatorsDn}`);
  });
});

describe('the break-glass source', () => {
  const parse = (p: Record<string, unknown>) => breakGlassSource.params.parse(p);

  test('declares isolation always, one-open only with maxOpen, every id a catalogue check', () => {
    expect(breakGlassSource.checks(parse({}))).toContain('break-glass-isolated');
    expect(breakGlassSource.checks(parse({}))).not.toContain('break-glass-one-open');
    expect(breakGlassSource.checks(parse({ maxOpen: 1 }))).toContain('break-glass-one-open');
    for (const id of breakGlassSource.checks(parse({ maxOpen: 1 }))) expect(() => checkDefinition(id), id).not.toThrow();
  });

  test("a user's own path takes no broken setup, and names its identity's password by variable only", () => {
    const existing = { groupDn: 'cn=bg,ou=groups,dc=x', identityDn: 'cn=oncall,ou=people,dc=x', identityPasswordEnv: 'BG_PASSWORD' };
    expect(parse({ existing }).existing).toEqual(existing);
    expect(() => parse({ existing, routineMayUseBreakGlass: true })).toThrow(/not with existing/);
    expect(() => parse({ existing: { ...existing, identityPasswordEnv: 'hunter2!' } })).toThrow();
  });

  test('the built-in scenario is flagged break-glass', async () => {
    const scenario = (await loadBuiltinScenarios(['ldap'])).find((s) => s.id === 'break-glass-group') ?? expect.unreachable('no break-glass-group scenario');
    expect(scenario.breakGlass).toBe(true);
    expect([scenario.grant.name, scenario.use.name]).toEqual(['break-glass', 'entry']);
  });
});
