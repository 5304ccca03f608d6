/**
 * Every directory scenario and its broken twin against a real OpenLDAP slapd the test starts,
 * and proof that the harness's slapd is its own: own configuration in a temporary directory,
 * 127.0.0.1 only, and the system's LDAP configuration (/etc/ldap) left exactly as it was.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Adapter, StartedTarget } from '../../adapters/contract.ts';
import { addMember, type LdapClient } from '../../adapters/ldap/client.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { fileTree, systemDaemons } from '../support/system-state.ts';
import { describeConformance } from '../support/conformance.ts';
import { testRunId } from '../support/run-id.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

/** slapd processes that are not a jitc instance (those run from a jitc temp dir): the system's own. */
const slapdPids = (): number[] => systemDaemons('slapd', (cmdline) => cmdline.includes('/jitc-ldap-'));
const systemLdapConfig = (): Record<string, string> => fileTree('/etc/ldap');

const systemConfigBefore = systemLdapConfig();
const slapdBefore = slapdPids();

describeConformance('ldap', {
  expected: {
    'open-session-outlives-grant': {
      verdict: 'fail',
      failedChecks: ['session-ended-with-task'],
      because:
        'slapd keeps a connection bound as the expired account open and still authenticated (Who am I? answers its deleted DN), so it keeps reading what any authenticated identity may; only the membership-granted attribute is refused, once refint drops the membership',
    },
    'ldap-dynamic-role': {
      verdict: 'fail',
      failedChecks: ['session-ended-with-task'],
      because:
        "OpenBao's deletion LDIF deletes the account at the lease's end, and slapd keeps the connection bound as it authenticated: the same product property as open-session-outlives-grant",
    },
  },
});

describe("the harness's slapd is its own", () => {
  let target: StartedTarget | undefined;
  const started = (): StartedTarget => target ?? expect.unreachable('the local slapd did not start');

  beforeAll(async () => {
    const adapter = await getAdapter('ldap');
    [target] = await bringUp([adapter], { runId: testRunId(), projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
  });
  afterAll(async () => {
    await target?.stop();
  });

  test('it runs from a slapd.conf in a temporary directory, on 127.0.0.1 only', () => {
    const argv = readFileSync(`/proc/${started().pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(argv[0]).toBe('/usr/sbin/slapd');
    const conf = argv[argv.indexOf('-f') + 1] ?? '';
    expect(conf).toMatch(/\/jitc-ldap-[^/]+\/slapd\.conf$/);
    expect(conf.startsWith('/etc/')).toBe(false);
    expect(argv).not.toContain('-F');
    expect(argv[argv.indexOf('-h') + 1]).toMatch(/^ldap:\/\/127\.0\.0\.1:\d+\/$/);
  });

  test('the external mode reaches it with the password taken from the variable the config names', async () => {
    const { settings } = started().connection;
    const external = (await getAdapter('ldap')).targets.external;
    if (!external) throw new Error('no external mode');
    const config = { url: settings.url, bindDn: settings.bindDn, baseDn: settings.baseDn, grantGroupDn: settings.grantGroupDn, resourceDn: settings.resourceDn, passwordEnv: 'JITC_TEST_LDAP_PASSWORD' };
    const options = { runId: 'x', workDir: '/nonexistent', projectRoot: PROJECT_ROOT, config, log: () => undefined };
    process.env.JITC_TEST_LDAP_PASSWORD = settings.password;
    try {
      const connection = await external.connect(options);
      expect(connection.settings.flavour).toBe('openldap');
      expect(connection.facts.product).toBe('OpenLDAP');
      expect(connection.secretSettings).toEqual(['password']);
      process.env.JITC_TEST_LDAP_PASSWORD = 'wrong';
      await expect(external.connect(options)).rejects.toThrow(/^external ldap target ldap:\/\/127\.0\.0\.1:\d+ is not usable: bind as cn=admin,dc=jitc,dc=test: invalidCredentials \(49\)$/);
    } finally {
      delete process.env.JITC_TEST_LDAP_PASSWORD;
    }
  });

  test('cleanup removes what a killed run left, by its run id, and reports it', async () => {
    const adapter = (await getAdapter('ldap')) as Adapter<LdapClient>;
    const client = await adapter.connect(started().connection);
    const { layout } = client;
    const killed = testRunId();
    const other = testRunId();
    const requester = `cn=jitc-${killed}-membership.requester,${layout.accountsDn}`;
    const grantGroup = `cn=jitc-${killed}-membership.grant-direct,${layout.groupsDn}`;
    const expired = `cn=jitc-${killed}-account.svc,${layout.accountsDn}`;
    const bystander = `cn=jitc-${other}-membership.requester,${layout.accountsDn}`;
    try {
      await client.admin.use(async (c) => {
        for (const dn of [requester, bystander]) await c.add(dn, { objectClass: ['applicationProcess'], cn: /^cn=([^,]+)/.exec(dn)?.[1] ?? '' });
        await c.add(grantGroup, { objectClass: ['groupOfNames'], cn: /^cn=([^,]+)/.exec(grantGroup)?.[1] ?? '', member: requester });
      });
      await addMember(client, layout.grantGroupDn, grantGroup);
      // A membership left pointing at an account that is already gone.
      await addMember(client, layout.grantGroupDn, expired);

      const sweep = await adapter.cleanup(client, killed);
      expect(sweep.failed).toEqual([]);
      expect([...sweep.removed].sort()).toEqual(
        [`member ${grantGroup} of ${layout.grantGroupDn}`, `member ${expired} of ${layout.grantGroupDn}`, `entry ${grantGroup}`, `entry ${requester}`].sort(),
      );
      expect(await adapter.cleanup(client, killed)).toEqual({ removed: [], failed: [] });
      const left = await client.admin.search(layout.accountsDn, { scope: 'one', filter: '(cn=jitc-*)', attributes: ['1.1'] });
      expect(left.searchEntries.map((e) => e.dn)).toEqual([bystander]);
      expect((await adapter.cleanup(client, undefined)).removed).toEqual([`entry ${bystander}`]);
    } finally {
      await adapter.disconnect?.(client);
    }
  });

  test('stopping it ends the process by its pid and removes its configuration', async () => {
    const { pid } = started();
    const conf = (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).find((a) => a.endsWith('slapd.conf'))) ?? '';
    await started().stop();
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(conf)).toBe(false);
  });

  test('the system LDAP configuration (/etc/ldap, slapd.d included) is unchanged and no other slapd was started', () => {
    expect(systemLdapConfig()).toEqual(systemConfigBefore);
    expect(slapdPids()).toEqual(slapdBefore);
  });
});
