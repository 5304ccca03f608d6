/**
 * The pure parts of `jitc discover`: scenario ids made from object names, the secret a Vault
 * role's policies read, the object an IAM role's policies read, the groups an OpenLDAP ACL grants
 * through and whether its rule lets more than a group read, and the files as they are planned.
 */
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { actionCovers, readableObject, sessionFloorSeconds } from '../../adapters/aws/discover.ts';
import { parseDocument } from '../../adapters/aws/policies.ts';
import { groupOf, grantsRead, judgeRule, parseAcl } from '../../adapters/ldap/discover.ts';
import { localLayout } from '../../adapters/ldap/layout.ts';
import { slapdConf } from '../../adapters/ldap/slapd-config.ts';
import { policyPaths, readableKvPath } from '../../adapters/vault/discover.ts';
import { planFiles, placeholders, scenarioIdFrom } from '../../cli/discover.ts';
import { scenarioId } from '../../scenarios/schema.ts';

describe('scenario ids made from object names', () => {
  test('are lower-case letters, digits and dashes, valid for the scenario schema', () => {
    expect(scenarioIdFrom('token-role-CI_Deploy.prod', new Set())).toBe('token-role-ci-deploy-prod');
    expect(scenarioIdFrom('group-Protected Readers!', new Set())).toBe('group-protected-readers');
    expect(scenarioIdFrom('--x', new Set())).toBe('object-x');
  });

  test('never clash with a built-in or an id given before: -2, -3 follow', () => {
    const taken = new Set(['token-ttl-expiry', 'role-app', 'role-app-2']);
    expect(scenarioIdFrom('token-ttl-expiry', taken)).toBe('token-ttl-expiry-2');
    expect(scenarioIdFrom('role-App', taken)).toBe('role-app-3');
  });

  test('a name too long keeps its start and a hash of the whole, so two long names stay apart', () => {
    const a = scenarioIdFrom(`role-${'x'.repeat(80)}-a`, new Set());
    const b = scenarioIdFrom(`role-${'x'.repeat(80)}-b`, new Set());
    for (const id of [a, b]) {
      expect(id.length).toBeLessThanOrEqual(63);
      expect(scenarioId.safeParse(id).success).toBe(true);
    }
    expect(a).not.toBe(b);
    const taken = new Set([a]);
    const again = scenarioIdFrom(`role-${'x'.repeat(80)}-a`, taken);
    expect(again).not.toBe(a);
    expect(again.length).toBeLessThanOrEqual(63);
  });
});

describe('the secret a Vault role reads, from its policies', () => {
  const hcl = `
# the team's read policy
path "secret/data/team/*" {
  capabilities = ["read"]   # a glob: which secret is not said
}
path "sys/mounts" { capabilities = ["read"] }
// a denied one
path "secret/data/team/blocked" {
  capabilities = ["deny"]
}
path "secret/data/team/db" {
  capabilities = ["read", "list"]
  allowed_parameters = {
    "x" = []
  }
}
/* a later one is not the first */
path "secret/data/team/other" { capabilities = ["read"] }
`;

  test('every path block is read, comments and nested blocks included', () => {
    expect(policyPaths(hcl).map((p) => p.path)).toEqual(['secret/data/team/*', 'sys/mounts', 'secret/data/team/blocked', 'secret/data/team/db', 'secret/data/team/other']);
    expect(policyPaths(hcl)[3]!.capabilities).toEqual(['read', 'list']);
  });

  test('the first path of a KV v2 mount with read and without glob is the secret', () => {
    expect(readableKvPath(policyPaths(hcl), ['secret/'])).toBe('secret/data/team/db');
  });

  test('a path of a mount that is not KV v2, a directory or metadata is no secret', () => {
    const paths = policyPaths('path "kv1/app/db" { capabilities = ["read"] }\npath "secret/metadata/app/db" { capabilities = ["read"] }\npath "secret/data/app/" { capabilities = ["read"] }');
    expect(readableKvPath(paths, ['secret/'])).toBeUndefined();
  });

  test('the longest KV v2 mount the path lies under is its mount', () => {
    const paths = policyPaths('path "kv/team/data/app/db" { capabilities = ["read"] }');
    expect(readableKvPath(paths, ['kv/', 'kv/team/'])).toBe('kv/team/data/app/db');
  });

  test("a policy in Vault's JSON form is read too", () => {
    const json = JSON.stringify({ path: { 'secret/data/+/db': { capabilities: ['read'] }, 'secret/data/app/db': { capabilities: ['read'] } } });
    expect(readableKvPath(policyPaths(json), ['secret/'])).toBe('secret/data/app/db');
  });
});

describe('the object an IAM role reads, from its policies', () => {
  const doc = (statements: unknown[]): ReturnType<typeof parseDocument> => parseDocument(JSON.stringify({ Version: '2012-10-17', Statement: statements }));

  test('the first s3:GetObject (or a wildcard covering it) on one object without wildcards', () => {
    const docs = [
      doc([{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bucket/*' }]),
      doc([
        { Effect: 'Deny', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bucket/denied' },
        { Effect: 'Allow', Action: ['s3:Get*'], Resource: ['arn:aws:s3:::bucket', 'arn:aws:s3:::bucket/app/config.json'] },
      ]),
    ];
    expect(readableObject(docs)).toBe('arn:aws:s3:::bucket/app/config.json');
  });

  test('none when no statement names a single object', () => {
    expect(readableObject([doc([{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/k' }])])).toBeUndefined();
  });

  test('action patterns cover by IAM wildcards, case aside', () => {
    expect(actionCovers('s3:*', 's3:GetObject')).toBe(true);
    expect(actionCovers('*', 's3:GetObject')).toBe(true);
    expect(actionCovers('S3:getobject', 's3:GetObject')).toBe(true);
    expect(actionCovers('s3:GetObjectAcl', 's3:GetObject')).toBe(false);
  });

  test('sessions shorter than 900 s are asked only of an emulator at a custom endpoint', () => {
    expect(sessionFloorSeconds(undefined)).toBe(900);
    expect(sessionFloorSeconds('https://sts.eu-west-1.amazonaws.com')).toBe(900);
    expect(sessionFloorSeconds('http://127.0.0.1:5000')).toBe(1);
  });
});

describe('the groups an OpenLDAP ACL grants a read through', () => {
  /** The local slapd's own ACL, as olcAccess values. */
  const localAcl = (): string[] => {
    const conf = slapdConf(localLayout(), { dataDir: '/d', pidFile: '/p', argsFile: '/a', modulePath: '/m', schemaDir: '/s' }, '{SSHA}x');
    return [...conf.matchAll(/^access (to .*(?:\n {2}.*)*)/gm)].map((m, i) => `{${i}}${m[1]!.replace(/\n\s+/g, ' ')}`);
  };

  test('a rule names its entry, attributes and who gets which access', () => {
    const rule = parseAcl('{3}to dn.base="cn=protected,ou=resources,dc=x" attrs=description,@extensibleObject by group.exact="cn=readers,ou=groups,dc=x" read by users search by * none stop');
    expect(rule).toEqual({
      entryDn: 'cn=protected,ou=resources,dc=x',
      attributes: ['description'],
      by: [
        { who: 'group.exact=cn=readers,ou=groups,dc=x', access: 'read' },
        { who: 'users', access: 'search' },
        { who: '*', access: 'none' },
      ],
      text: 'to dn.base="cn=protected,ou=resources,dc=x" attrs=description,@extensibleObject by group.exact="cn=readers,ou=groups,dc=x" read by users search by * none stop',
    });
    expect(parseAcl('olcSuffix: dc=x')).toBeUndefined();
    // Clauses narrowing a who come before its access, and the clauses after them are still read.
    const narrowed = parseAcl('to dn.base="cn=p,dc=x" attrs=description by group=cn=g,dc=x peername.ip=127.0.0.1 ssf=128 read by dn.children="ou=apps,dc=x" read by * none')!;
    expect(narrowed.by).toEqual([
      { who: 'group=cn=g,dc=x', access: 'read' },
      { who: 'dn.children=ou=apps,dc=x', access: 'read' },
      { who: '*', access: 'none' },
    ]);
  });

  test('a group is named by group=, group/objectClass/attr= or a set over [DN]/member', () => {
    expect(groupOf('group=cn=a,dc=x')).toBe('cn=a,dc=x');
    expect(groupOf('group/groupOfNames/member.exact=cn=a,dc=x')).toBe('cn=a,dc=x');
    expect(groupOf('set=[cn=a,dc=x]/member* & user')).toBe('cn=a,dc=x');
    expect(groupOf('dn.exact=cn=a,dc=x')).toBeUndefined();
  });

  test('read, write and manage read; compare, search and auth do not', () => {
    expect(['read', 'write', 'manage', '=rs', '+r'].every(grantsRead)).toBe(true);
    expect(['compare', 'search', 'auth', 'none', '=sc'].some(grantsRead)).toBe(false);
  });

  test("the local slapd's ACL grants the protected attribute through its grant group, and by location to ou=apps: role-trust-narrow fails", () => {
    const layout = localLayout();
    const rules = localAcl().map(parseAcl).filter((r) => r !== undefined);
    const rule = rules.find((r) => r.entryDn === layout.resourceDn)!;
    expect(rule.attributes).toEqual([layout.resourceAttribute]);
    const groups = rule.by.filter((b) => grantsRead(b.access)).map((b) => groupOf(b.who));
    expect(groups).toContain(layout.grantGroupDn);
    const finding = judgeRule(rule, layout.grantGroupDn);
    expect(finding.verdict).toBe('fail');
    expect(finding.detail).toContain(`read to dn.children=${layout.dnGrantedDn}`);
  });

  test('a rule granting the read only through the group, and to a named identity, passes', () => {
    const rule = parseAcl('to dn.base="cn=p,dc=x" attrs=description by set="[cn=g,dc=x]/member* & user" read by dn.exact="cn=auditor,dc=x" read by * none')!;
    const finding = judgeRule(rule, 'cn=g,dc=x');
    expect(finding.verdict).toBe('pass');
    expect(finding.detail).toContain('dn.exact=cn=auditor,dc=x');
  });
});

describe('the files discovery plans', () => {
  const policy = { maxWindowSeconds: 3600, maxWaitSeconds: 300 };
  const scenario = (secretPath: string): Record<string, unknown> => ({ title: 'T t t', use: { point: 'kv-secret', params: { existing: { secretPath } } } });

  test('opt-in scenarios go under opt-in/, ids stay unique across adapters and built-ins, CHANGE-ME is named at the top', () => {
    const files = planFiles(
      [
        {
          adapter: 'vault',
          address: 'http://v',
          notes: [],
          discovery: {
            findings: [],
            scenarios: [
              { id: 'token-role-A', scenario: scenario('secret/data/a') },
              { id: 'token-role-a', scenario: scenario('CHANGE-ME') },
              { id: 'token-role-a-expire', scenario: scenario('secret/data/a'), optIn: true },
            ],
          },
        },
        { adapter: 'ldap', address: 'ldap://l', notes: [], discovery: { findings: [], scenarios: [{ id: 'token-ttl-expiry', scenario: scenario('x') }] } },
      ],
      new Set(['token-ttl-expiry']),
      policy,
    );
    expect(files.map((f) => f.path)).toEqual(['token-role-a.yaml', 'token-role-a-2.yaml', 'opt-in/token-role-a-expire.yaml', 'token-ttl-expiry-2.yaml']);
    const [plain, edit, optIn] = files;
    expect(plain!.text.split('\n')[0]).toMatch(/^# Written by `jitc discover` from vault at http:\/\/v\./);
    expect(parse(plain!.text)).toMatchObject({ id: 'token-role-a', title: 'T t t' });
    expect(edit!.placeholders).toEqual(['use.params.existing.secretPath']);
    expect(edit!.text).toMatch(/^# CHANGE-ME: discovery could not fill use\.params\.existing\.secretPath/m);
    expect(optIn!.text).toMatch(/^# Opt-in: .*policy\.maxWaitSeconds \(300 s\)/m);
    expect(optIn!.text).toContain('jitc run --scenario-file DIR/opt-in/token-role-a-expire.yaml');
  });

  test('placeholders are found at any depth, arrays included', () => {
    expect(placeholders({ a: { b: ['x', 'CHANGE-ME'] }, c: 'CHANGE-ME' })).toEqual(['a.b.1', 'c']);
  });
});
