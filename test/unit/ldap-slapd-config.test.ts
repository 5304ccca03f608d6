/**
 * The local directory's configuration, as text and as slapd reads it: `slaptest` (the real
 * OpenLDAP parser, modules loaded) must accept the generated slapd.conf.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { localLayout } from '../../adapters/ldap/layout.ts';
import { sshaHash } from '../../adapters/ldap/passwords.ts';
import { seedLdif, slapdConf, TEST_DDS_BOUNDS } from '../../adapters/ldap/slapd-config.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'jitc-ldap-conf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const layout = localLayout();
const paths = { dataDir: join(dir, 'data'), pidFile: join(dir, 'slapd.pid'), argsFile: join(dir, 'slapd.args'), modulePath: '/usr/lib/ldap', schemaDir: '/etc/ldap/schema' };
const conf = slapdConf(layout, paths, sshaHash('not-used'));

describe('the generated slapd.conf', () => {
  test('slaptest accepts it', async () => {
    for (const db of ['main', 'accesslog', 'unaudited']) mkdirSync(join(dir, 'data', db), { recursive: true });
    writeFileSync(join(dir, 'slapd.conf'), conf);
    const { stderr } = await run('/usr/sbin/slaptest', ['-u', '-f', join(dir, 'slapd.conf')], { env: { PATH: process.env.PATH, LDAPNOINIT: '1' } });
    expect(stderr).toMatch(/config file testing succeeded/);
  });

  test('dynamic objects: short TTL bounds, a one-second reaper and the expiry index', () => {
    expect(conf).toContain('overlay dds');
    expect(conf).toContain(`dds-min-ttl ${TEST_DDS_BOUNDS.minTtlSeconds}`);
    expect(conf).toContain(`dds-interval ${TEST_DDS_BOUNDS.intervalSeconds}`);
    expect(conf).toContain('index entryExpireTimestamp eq');
  });

  test('the audit log records writes and binds into its own database, which nobody may read but the broker', () => {
    expect(conf).toMatch(/overlay accesslog\nlogdb "cn=accesslog"\nlogops writes bind/);
    expect(conf).toMatch(/suffix "cn=accesslog"[\s\S]*?access to \* by \* none/);
  });

  test('only the grant group, nested groups followed, reads the protected attribute', () => {
    expect(conf).toContain(`access to dn.base="${layout.resourceDn}" attrs=${layout.resourceAttribute}`);
    expect(conf).toContain(`by set="[${layout.grantGroupDn}]/member* & user" read`);
  });

  test('the bound grant group reads it only on a connection from 127.0.0.1, and the seed holds that group empty', () => {
    const rule = /^access to dn\.base=.*\n(?: {2}by .*\n)*/m.exec(conf)?.[0] ?? '';
    expect(rule).toContain(`  by set="[${layout.boundGrantGroupDn}]/member* & user" peername.ip=127.0.0.1 read\n`);
    expect(rule.match(new RegExp(layout.boundGrantGroupDn!.replace(/\./g, '\\.'), 'g'))).toHaveLength(1);
    expect(seedLdif(layout, 'value', { o: 'jitc', dc: 'jitc' })).toContain(`dn: ${layout.boundGrantGroupDn}\nobjectClass: groupOfNames\ncn: protected-readers-from-127.0.0.1\nmember: ${layout.emptyMember}`);
  });

  test('only the self-service subtree lets an entry, or a group\'s members, manage entryTtl; it comes before the catch-all read rule', () => {
    const managing = conf.match(/^access to .*\n(?:  by .*\n)*/gm)?.filter((rule) => / manage$/m.test(rule)) ?? [];
    expect(managing).toEqual([
      `access to dn.subtree="${layout.selfServiceDn}" attrs=entryTtl\n  by self manage\n  by set="this/member & user" manage\n  by users read\n  by * none\n`,
    ]);
    expect(conf.indexOf('attrs=entryTtl')).toBeLessThan(conf.lastIndexOf('access to *\n  by users read'));
    expect(seedLdif(layout, 'value', { o: 'jitc', dc: 'jitc' })).toContain(`dn: ${layout.selfServiceDn}\nobjectClass: organizationalUnit`);
  });

  test('nothing points at the system configuration except the packaged schema and modules', () => {
    const systemPaths = conf.match(/\/etc\/[^\s"]+/g) ?? [];
    expect(systemPaths.every((p) => p.startsWith('/etc/ldap/schema/'))).toBe(true);
    expect(conf).not.toMatch(/slapd\.d/);
  });

  test('the seed holds the protected entry and an empty grant group', () => {
    const ldif = seedLdif(layout, 'value', { o: 'jitc', dc: 'jitc' });
    expect(ldif).toContain(`dn: ${layout.resourceDn}\nobjectClass: applicationProcess`);
    expect(ldif).toContain(`dn: ${layout.grantGroupDn}\nobjectClass: groupOfNames\ncn: protected-readers\nmember: ${layout.emptyMember}`);
  });
});
