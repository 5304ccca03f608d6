/** An external directory target: incomplete or invalid settings are one clear InputError line. */
import { afterEach, describe, expect, test } from 'vitest';
import { type ProvisionOptions } from '../../adapters/contract.ts';
import { ldapTargets } from '../../adapters/ldap/targets.ts';
import { InputError } from '../../scenarios/input.ts';

const ENV = ['LDAPURI', 'LDAPBINDDN', 'LDAPBASE', 'LDAP_BIND_PASSWORD', 'JITC_UNIT_LDAP_PW'] as const;
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
afterEach(() => {
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});
for (const k of ENV) delete process.env[k];

function connect(config: Record<string, unknown>): Promise<unknown> {
  const external = ldapTargets.external;
  if (!external) throw new Error('no external mode');
  const options: ProvisionOptions = { runId: 'u', workDir: '/nonexistent', projectRoot: '/nonexistent', config, log: () => undefined };
  return external.connect(options);
}

const complete = { grantGroupDn: 'cn=readers,dc=x', resourceDn: 'cn=r,dc=x' };

async function inputError(config: Record<string, unknown>): Promise<string> {
  const error = await connect(config).then(
    () => expect.unreachable('should have been refused'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  const message = (error as Error).message;
  expect(message.split('\n')).toHaveLength(1);
  return message;
}

describe('external ldap settings', () => {
  test('the grant group and the protected entry must be named', async () => {
    expect(await inputError({})).toBe('config ldap: grantGroupDn: required: the DN of the group whose members the ACL lets read resourceDn');
    expect(await inputError({ grantGroupDn: 'cn=g,dc=x' })).toMatch(/^config ldap: resourceDn: required/);
  });

  test('a password is never taken from the file', async () => {
    expect(await inputError({ ...complete, password: 'secret' })).toMatch(/^config ldap: .*password/);
  });

  test('the URL comes from the config or LDAPURI, and must be an LDAP URL', async () => {
    expect(await inputError(complete)).toBe('external ldap target: set ldap.url in the config file (or LDAPURI)');
    process.env.LDAPURI = 'http://dc.example.com';
    expect(await inputError(complete)).toBe('external ldap target: http://dc.example.com is not an ldap:// or ldaps:// URL');
  });

  test('bind DN and base DN come from the config or the OpenLDAP client environment', async () => {
    expect(await inputError({ ...complete, url: 'ldap://127.0.0.1:1' })).toBe('external ldap target: set ldap.bindDn in the config file (or LDAPBINDDN)');
    process.env.LDAPBINDDN = 'cn=broker,dc=x';
    expect(await inputError({ ...complete, url: 'ldap://127.0.0.1:1' })).toBe('external ldap target: set ldap.baseDn in the config file (or LDAPBASE)');
  });

  test('the password comes from the environment variable the config names', async () => {
    const config = { ...complete, url: 'ldap://127.0.0.1:1', bindDn: 'cn=broker,dc=x', baseDn: 'dc=x', passwordEnv: 'JITC_UNIT_LDAP_PW' };
    expect(await inputError(config)).toBe('external ldap target: set JITC_UNIT_LDAP_PW to the bind password of cn=broker,dc=x');
  });

  test('a TLS file the config names must be readable, before anything connects', async () => {
    process.env.JITC_UNIT_LDAP_PW = 'x';
    const config = { ...complete, url: 'ldaps://127.0.0.1:1', bindDn: 'cn=broker,dc=x', baseDn: 'dc=x', passwordEnv: 'JITC_UNIT_LDAP_PW', tls: { caFile: '/nonexistent/ca.pem' } };
    expect(await inputError(config)).toBe('external ldap target: ldap.tls.caFile /nonexistent/ca.pem is not readable (ENOENT)');
  });

  test('an unreachable directory is bad input, said in one line', async () => {
    process.env.JITC_UNIT_LDAP_PW = 'x';
    const config = { ...complete, url: 'ldap://127.0.0.1:1', bindDn: 'cn=broker,dc=x', baseDn: 'dc=x', passwordEnv: 'JITC_UNIT_LDAP_PW', timeoutMs: 1000 };
    expect(await inputError(config)).toMatch(/^external ldap target ldap:\/\/127\.0\.0\.1:1 is not usable: bind as cn=broker,dc=x: ECONNREFUSED/);
  });
});
