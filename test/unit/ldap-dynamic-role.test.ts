/**
 * What the `ldap-dynamic-role` grant source hands OpenBao's ldap engine, as text: the role's
 * creation, deletion and rollback LDIF, the usernames it asks for, and the checks it declares.
 */
import { describe, expect, test } from 'vitest';
import { accountDn, ldapDynamicRoleSource, ldifLine, roleLdif, usernameTemplate } from '../../adapters/vault/grants/ldap-dynamic-role.ts';
import { carriesPrefix } from '../../adapters/ldap/client.ts';
import { checkDefinition } from '../../scenarios/catalogue.ts';

const ACCOUNTS = 'ou=accounts,dc=jitc,dc=test';
const GROUP = 'cn=protected-readers,ou=groups,dc=jitc,dc=test';

describe("the ldap engine's dynamic role", () => {
  test('the creation LDIF adds the account under the accounts OU with the generated password, then makes it a member of the grant group', () => {
    const { creation } = roleLdif(ACCOUNTS, GROUP, 'delete-account');
    expect(creation).toBe(
      [
        `dn: cn={{.Username}},${ACCOUNTS}`,
        'changetype: add',
        'objectClass: applicationProcess',
        'objectClass: simpleSecurityObject',
        'cn: {{.Username}}',
        'userPassword: {{.Password}}',
        '',
        `dn: ${GROUP}`,
        'changetype: modify',
        'add: member',
        `member: cn={{.Username}},${ACCOUNTS}`,
        '-',
        '',
      ].join('\n'),
    );
  });

  test('the conformant deletion deletes the account itself, and so does the rollback', () => {
    const { deletion, rollback } = roleLdif(ACCOUNTS, GROUP, 'delete-account');
    expect(deletion).toBe(`dn: cn={{.Username}},${ACCOUNTS}\nchangetype: delete\n`);
    expect(rollback).toBe(deletion);
  });

  test('the broken deletions leave the account: one removes only the membership, one names a DN where the account does not live', () => {
    expect(roleLdif(ACCOUNTS, GROUP, 'membership-only').deletion).toBe(`dn: ${GROUP}\nchangetype: modify\ndelete: member\nmember: cn={{.Username}},${ACCOUNTS}\n-\n`);
    expect(roleLdif(ACCOUNTS, GROUP, 'fails').deletion).toBe(`dn: cn={{.Username}},ou=nowhere,${ACCOUNTS}\nchangetype: delete\n`);
    // Whatever the deletion, a failed creation is undone by deleting the account.
    expect(roleLdif(ACCOUNTS, GROUP, 'fails').rollback).toBe(`dn: cn={{.Username}},${ACCOUNTS}\nchangetype: delete\n`);
  });

  test('a value LDIF cannot carry as it is goes base64-encoded; one inside a template line is refused instead', () => {
    expect(ldifLine('dn', 'cn=Lecteurs protégés,ou=groups,dc=jitc,dc=test')).toBe(`dn:: ${Buffer.from('cn=Lecteurs protégés,ou=groups,dc=jitc,dc=test').toString('base64')}`);
    expect(ldifLine('description', ' leading space')).toMatch(/^description:: /);
    expect(ldifLine('description', 'trailing space ')).toMatch(/^description:: /);
    expect(ldifLine('description', ':colon')).toMatch(/^description:: /);
    expect(() => roleLdif('ou=comptes créés,dc=jitc,dc=test', GROUP, 'delete-account')).toThrow(/cannot be written into a templated LDIF line/);
  });

  test('a DN that would open a template action in OpenBao is refused', () => {
    expect(() => roleLdif('ou={{.Password}},dc=jitc,dc=test', GROUP, 'delete-account')).toThrow(/template/);
    expect(() => roleLdif(ACCOUNTS, 'cn={{.Password}},dc=jitc,dc=test', 'delete-account')).toThrow(/template/);
  });

  test("the engine names each account with the scenario's prefix, which the directory's sweep matches", () => {
    const prefix = 'jitc-r1-ldap-dynamic-role';
    expect(usernameTemplate(prefix)).toBe(`${prefix}.svc-{{random 8}}`);
    expect(carriesPrefix(accountDn(`${prefix}.svc-Ab3dE6gH`, ACCOUNTS), prefix)).toBe(true);
    // Another scenario whose id extends this one is not swept with it.
    expect(carriesPrefix(accountDn('jitc-r1-ldap-dynamic-role-twin.svc-Ab3dE6gH', ACCOUNTS), prefix)).toBe(false);
    expect(() => usernameTemplate('jitc-r1-{{.Password}}')).toThrow(/prefix/);
  });
});

describe('what the ldap-dynamic-role source declares', () => {
  const parse = (p: Record<string, unknown>) => ldapDynamicRoleSource.params.parse({ ttlSeconds: 3, ...p });

  test('every declared check is a catalogue check, with a remediation in OpenBao terms', () => {
    for (const id of ldapDynamicRoleSource.checks(parse({}))) {
      expect(() => checkDefinition(id), id).not.toThrow();
      expect(ldapDynamicRoleSource.remediation?.[id], id).toBeDefined();
    }
    expect(ldapDynamicRoleSource.checks(parse({}))).toEqual(['reuse-denied', 'credential-invalidated', 'holder-cannot-extend']);
  });

  test('it grants by the grant group the directory point of use offers, and hands on a bind', () => {
    expect(ldapDynamicRoleSource.needs).toEqual(['ldap.grant-group']);
    expect(ldapDynamicRoleSource.issues).toEqual(['ldap-bind']);
  });

  test('the conformant defaults: the account is deleted, the lease revoked at task end, the cap left to the window', () => {
    expect(parse({})).toEqual({ ttlSeconds: 3, deletion: 'delete-account', revokeAtEnd: 'lease' });
    expect(parse({ maxTtlSeconds: null }).maxTtlSeconds).toBeNull();
    expect(() => parse({ ttlSeconds: 0 })).toThrow();
    expect(() => parse({ deletion: 'none' })).toThrow();
  });
});
