/**
 * `jitc discover` end to end, as an operator runs it against targets it does not own: an audited
 * OpenBao, a moto_server and a slapd started by the test and seeded with "the organisation's" roles,
 * some conformant and some not (a token role capped at 30 s and one at 768 h, an AppRole that needs
 * a secret_id and one whose role_id alone logs in, an IAM role trusting the broker and one trusting
 * "*" for 12 hours). Discovery changes nothing on them, writes a scenario per role and the static
 * findings, and its output runs as it is with `jitc run --scenario-file DIR/*.yaml` on the same
 * targets: the non-conformant roles fail on their static checks, the conformant ones fail nothing.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, GetRoleCommand, ListRolePoliciesCommand, ListRolesCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { connectAws, disconnectAws } from '../../adapters/aws/client.ts';
import { connectLdap } from '../../adapters/ldap/client.ts';
import { newPassword, sshaHash } from '../../adapters/ldap/passwords.ts';
import { VaultApi } from '../../adapters/vault/api.ts';
import type { StaticFinding } from '../../adapters/contract.ts';
import type { Summary } from '../../reports/writers/summary.ts';
import { expectRefused, jitc, type CliResult } from '../support/cli.ts';
import { startOwnTargets, type OwnTargets } from '../support/own-targets.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-discover-'));
const out = join(scratch, 'discovered');
const BUCKET = 'discover-seed';
/** The organisation's own requester account in the directory, and the variable its password is read from. */
const REQUESTER_PASSWORD_ENV = 'JITC_TEST_DISCOVER_REQUESTER_PASSWORD';
const requesterPassword = newPassword();
const OBJECT_KEY = 'app/config.json';

let own: OwnTargets;
let config: string;
let vault: VaultApi;

/** The organisation's own configuration, as an operator would have it before jitc ever looks. */
async function seed(): Promise<void> {
  await vault.call('PUT', 'sys/policies/acl/app-read', { policy: 'path "secret/data/app/db" {\n  capabilities = ["read"]\n}\n' });
  await vault.call('PUT', 'sys/policies/acl/health-only', { policy: 'path "sys/health" {\n  capabilities = ["read"]\n}\n' });
  await vault.call('POST', 'secret/data/app/db', { data: { password: 'seeded-by-the-test' } });
  await vault.call('POST', 'auth/token/roles/ci-short', { allowed_policies: ['app-read'], token_explicit_max_ttl: '30s' });
  await vault.call('POST', 'auth/token/roles/ci-tiny', { allowed_policies: ['app-read'], token_explicit_max_ttl: '3s' });
  await vault.call('POST', 'auth/token/roles/ci-forever', { allowed_policies: ['app-read'], token_explicit_max_ttl: '768h' });
  await vault.call('POST', 'auth/token/roles/no-secret', { allowed_policies: ['health-only'], token_explicit_max_ttl: '30s' });
  await vault.call('POST', 'sys/auth/approle', { type: 'approle' });
  await vault.call('POST', 'auth/approle/role/deploy', { token_policies: ['app-read'], secret_id_ttl: '30s', secret_id_num_uses: 1, token_ttl: '30s', token_max_ttl: '30s', token_explicit_max_ttl: '30s' });
  await vault.call('POST', 'auth/approle/role/open', { token_policies: ['app-read'], bind_secret_id: false, secret_id_bound_cidrs: ['127.0.0.1/32'], token_explicit_max_ttl: '30s' });

  const aws = connectAws(own.aws.connection);
  try {
    await aws.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: OBJECT_KEY, Body: 'seeded' }));
    const read = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/${OBJECT_KEY}` }] });
    const roles: [string, unknown, number][] = [
      ['app-narrow', { AWS: aws.brokerArn }, 3600],
      ['app-anyone', { AWS: '*' }, 43_200],
    ];
    for (const [name, principal, max] of roles) {
      const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole' }] });
      await aws.iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust, MaxSessionDuration: max }));
      await aws.iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'read-config', PolicyDocument: read }));
    }
  } finally {
    disconnectAws(aws);
  }

  const ldap = connectLdap(own.ldap.connection);
  try {
    await ldap.admin.use((c) =>
      c.add(`cn=app-requester,${ldap.layout.accountsDn}`, { objectClass: ldap.layout.accountObjectClasses, cn: 'app-requester', userPassword: sshaHash(requesterPassword) }),
    );
  } finally {
    await ldap.admin.close();
  }
}

/** Every target's configuration as far as discovery reads it: equal before and after means nothing changed. */
async function snapshot(): Promise<unknown> {
  const list = async (path: string): Promise<string[]> => {
    try {
      return (await vault.call<{ data: { keys: string[] } }>('LIST', path)).data.keys.sort();
    } catch {
      return [];
    }
  };
  const vaultConfig: Record<string, unknown> = {
    auth: Object.keys((await vault.call<{ data: Record<string, unknown> }>('GET', 'sys/auth')).data).sort(),
  };
  // The root policy cannot be read; every other one can.
  for (const name of (await list('sys/policies/acl')).filter((n) => n !== 'root')) vaultConfig[`policy ${name}`] = (await vault.call<{ data: unknown }>('GET', `sys/policies/acl/${name}`)).data;
  for (const name of await list('auth/token/roles')) vaultConfig[`token role ${name}`] = (await vault.call<{ data: unknown }>('GET', `auth/token/roles/${name}`)).data;
  for (const name of await list('auth/approle/role')) vaultConfig[`approle ${name}`] = (await vault.call<{ data: unknown }>('GET', `auth/approle/role/${name}`)).data;
  for (const mount of ['token', 'approle']) vaultConfig[`tune ${mount}`] = (await vault.call<{ data: unknown }>('GET', `sys/auth/${mount}/tune`)).data;

  const aws = connectAws(own.aws.connection);
  const awsConfig: Record<string, unknown> = {};
  try {
    for (const r of (await aws.iam.send(new ListRolesCommand({}))).Roles ?? []) {
      const role = (await aws.iam.send(new GetRoleCommand({ RoleName: r.RoleName! }))).Role;
      const policies = (await aws.iam.send(new ListRolePoliciesCommand({ RoleName: r.RoleName! }))).PolicyNames;
      awsConfig[r.RoleName!] = { trust: role?.AssumeRolePolicyDocument, max: role?.MaxSessionDuration, policies };
    }
  } finally {
    disconnectAws(aws);
  }

  const ldap = connectLdap(own.ldap.connection);
  try {
    const { searchEntries } = await ldap.admin.search(ldap.layout.baseDn, { scope: 'sub', filter: '(objectClass=*)', attributes: ['*'] });
    return { vault: vaultConfig, aws: awsConfig, ldap: searchEntries.map((e) => JSON.stringify(e)).sort() };
  } finally {
    await ldap.admin.close();
  }
}

function findings(dir: string): StaticFinding[] {
  const json = JSON.parse(readFileSync(join(dir, 'findings.json'), 'utf8')) as { adapters: { findings: StaticFinding[] }[] };
  return json.adapters.flatMap((a) => a.findings);
}

function verdictOf(all: StaticFinding[], object: RegExp, check: string): string | undefined {
  return all.find((f) => object.test(f.object) && f.check === check)?.verdict;
}

const yamlIn = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort() : []);

beforeAll(async () => {
  own = await startOwnTargets(scratch);
  vault = new VaultApi(own.vault.address, own.vault.rootToken);
  await seed();
  // The operator's config, with the organisation's bounds: an hour's window, five seconds' wait per expiry.
  config = join(scratch, 'jitc.yaml');
  writeFileSync(config, stringify({ ...(parse(readFileSync(own.configFile, 'utf8')) as object), policy: { maxWindowSeconds: 3600, maxWaitSeconds: 5 } }));
}, 180_000);

afterAll(async () => {
  await own?.stop();
});

describe('jitc discover against targets seeded with roles, some non-conformant', () => {
  let result: CliResult;
  let before: unknown;
  let after: unknown;
  beforeAll(async () => {
    before = await snapshot();
    result = jitc(['discover', '--target', 'external', '--config', config, '--out', out], own.env);
    after = await snapshot();
  }, 240_000);

  describe.concurrent('what it reads and writes', () => {
    test('changes nothing on any target: their configuration before and after is equal', () => {
      expect(after).toEqual(before);
    });

    test('exits 1 because static findings fail, with one line per adapter', () => {
      expect(result.code, result.stdout + result.stderr).toBe(1);
      expect(result.stdout).toMatch(/^vault at http:\/\/127\.0\.0\.1:\d+: 11 scenarios \(5 opt-in, 2 need an edit\); static findings: \d+ fail, \d+ pass$/m);
      expect(result.stdout).toMatch(/^aws at .+: 2 scenarios; static findings: 2 fail, 2 pass$/m);
      expect(result.stdout).toMatch(/^ldap at ldap:\/\/127\.0\.0\.1:\d+: 2 scenarios \(1 opt-in, 2 need an edit\); static findings: 0 fail, 0 pass$/m);
      expect(result.stdout).toMatch(/^jitc discover: \d+ static findings fail \(exit 1\)$/m);
    });

    test('writes a scenario per role; a role longer than the wait is revoked, with an opt-in twin that waits for the expiry', () => {
      expect(yamlIn(out)).toEqual([
        'approle-deploy.yaml',
        'approle-open.yaml',
        'group-protected-readers.yaml',
        'role-app-anyone.yaml',
        'role-app-narrow.yaml',
        'token-role-ci-forever.yaml',
        'token-role-ci-short.yaml',
        'token-role-ci-tiny.yaml',
        'token-role-no-secret.yaml',
      ]);
      expect(yamlIn(join(out, 'opt-in'))).toEqual([
        'approle-deploy-expire.yaml',
        'approle-open-expire.yaml',
        'group-protected-readers-expire.yaml',
        'token-role-ci-forever-expire.yaml',
        'token-role-ci-short-expire.yaml',
        'token-role-no-secret-expire.yaml',
      ]);
      const short = parse(readFileSync(join(out, 'token-role-ci-short.yaml'), 'utf8')) as Record<string, unknown>;
      expect(short).toMatchObject({
        id: 'token-role-ci-short',
        adapter: 'vault',
        grant: { adapter: 'vault', source: 'token', params: { role: 'ci-short' } },
        use: { point: 'kv-secret', params: { existing: { secretPath: 'secret/data/app/db' } } },
        task: { windowSeconds: 30 },
        end: { mode: 'revoke' },
      });
      expect(parse(readFileSync(join(out, 'opt-in', 'token-role-ci-short-expire.yaml'), 'utf8'))).toMatchObject({ end: { mode: 'expire' }, task: { windowSeconds: 30 } });
      // Within the wait: left to expire.
      expect(parse(readFileSync(join(out, 'token-role-ci-tiny.yaml'), 'utf8'))).toMatchObject({ end: { mode: 'expire' }, task: { windowSeconds: 3 } });
      expect(parse(readFileSync(join(out, 'approle-deploy.yaml'), 'utf8'))).toMatchObject({ grant: { source: 'approle-secret-id', params: { role: 'deploy', mount: 'approle' } } });
      const narrow = parse(readFileSync(join(out, 'role-app-narrow.yaml'), 'utf8')) as { grant: { params: { roleArn: string; durationSeconds: number } } };
      expect(narrow).toMatchObject({
        grant: { adapter: 'aws', source: 'assume-role', params: { durationSeconds: 5 } },
        use: { point: 's3-object', params: { existing: { objectArn: `arn:aws:s3:::${BUCKET}/${OBJECT_KEY}` } } },
        task: { windowSeconds: 3600 },
        end: { mode: 'expire' },
      });
      expect(narrow.grant.params.roleArn).toMatch(/:role\/app-narrow$/);
      const ldap = own.ldap.connection.settings;
      expect(parse(readFileSync(join(out, 'group-protected-readers.yaml'), 'utf8'))).toMatchObject({
        grant: { adapter: 'ldap', source: 'group-membership', params: { group: ldap.grantGroupDn } },
        use: { point: 'entry', params: { existing: { entryDn: ldap.resourceDn, attribute: ldap.resourceAttribute, grantGroupDn: ldap.grantGroupDn, requesterDn: 'CHANGE-ME', requesterPasswordEnv: 'CHANGE-ME' } } },
        end: { mode: 'revoke' },
      });
    });

    test('judges every role by the policy: the 768-hour token role, the role_id-only AppRole and the role anyone may assume for 12 hours fail', () => {
      const all = findings(out);
      expect(verdictOf(all, /token role ci-short$/, 'role-within-window')).toBe('pass');
      expect(verdictOf(all, /token role ci-tiny$/, 'role-within-window')).toBe('pass');
      expect(verdictOf(all, /token role ci-forever$/, 'role-within-window')).toBe('fail');
      expect(verdictOf(all, /AppRole role deploy$/, 'role-within-window')).toBe('pass');
      expect(verdictOf(all, /AppRole role deploy$/, 'role-trust-narrow')).toBe('pass');
      expect(verdictOf(all, /AppRole role open$/, 'role-trust-narrow')).toBe('fail');
      expect(verdictOf(all, /role arn:.*app-narrow/, 'role-within-window')).toBe('pass');
      expect(verdictOf(all, /role arn:.*app-narrow/, 'role-trust-narrow')).toBe('pass');
      expect(verdictOf(all, /role arn:.*app-anyone/, 'role-within-window')).toBe('fail');
      expect(verdictOf(all, /role arn:.*app-anyone/, 'role-trust-narrow')).toBe('fail');
      const md = readFileSync(join(out, 'findings.md'), 'utf8');
      expect(md).toMatch(/❌ fail · `role-trust-narrow` · role arn:.*app-anyone/);
    });

    test('says where the directory ACL came from: cn=config is not readable with the bind, so the grant group of the connection settings', () => {
      const json = JSON.parse(readFileSync(join(out, 'findings.json'), 'utf8')) as { adapters: { adapter: string; notes: string[] }[] };
      const notes = json.adapters.find((a) => a.adapter === 'ldap')!.notes.join('\n');
      expect(notes).toMatch(/ACL not read \(cn=config answered noSuchObject \(32\) to this bind\): used the grant group named in the connection settings/);
      expect(readFileSync(join(out, 'findings.md'), 'utf8')).toContain('ACL not read');
    });

    test('a role whose policies read no secret gets CHANGE-ME, said at the top of its file and in the output; jitc run refuses the file in one line', () => {
      const file = join(out, 'token-role-no-secret.yaml');
      const text = readFileSync(file, 'utf8');
      expect(text.split('\n')[1]).toMatch(/^# CHANGE-ME: discovery could not fill use\.params\.existing\.secretPath/);
      expect(result.stdout).toMatch(/^needs an edit: .*token-role-no-secret\.yaml: use\.params\.existing\.secretPath: /m);
      expectRefused(jitc(['run', '--scenario-file', file, '--target', 'external', '--config', config, '--out', join(scratch, 'refused')], own.env), /token-role-no-secret\.yaml: use\.params\.existing\.secretPath/);
      // The directory's membership goes to a requester of the organisation's, which discovery cannot know.
      expect(readFileSync(join(out, 'group-protected-readers.yaml'), 'utf8').split('\n')[1]).toMatch(/^# CHANGE-ME: discovery could not fill use\.params\.existing\.requesterDn, use\.params\.existing\.requesterPasswordEnv/);
      expect(result.stdout).toMatch(/^needs an edit: .*group-protected-readers\.yaml: use\.params\.existing\.requester(Dn|PasswordEnv): /m);
    });

    test('its output directory is sealed: jitc verify calls it intact', () => {
      const verified = jitc(['verify', out]);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    });

    test('round trip: jitc run --scenario-file DIR/*.yaml on the same targets runs every scenario (the directory one with its requester filled in); the non-conformant fail on their static checks, the conformant fail nothing', () => {
      const ready = yamlIn(out).filter((f) => !['token-role-no-secret.yaml', 'group-protected-readers.yaml'].includes(f));
      // The one edit discovery asks for: the organisation's requester and the variable holding its password.
      const edited = join(scratch, 'group-protected-readers.yaml');
      const ldap = own.ldap.connection.settings;
      writeFileSync(
        edited,
        readFileSync(join(out, 'group-protected-readers.yaml'), 'utf8')
          .replace('requesterDn: CHANGE-ME', `requesterDn: cn=app-requester,${ldap.accountsDn}`)
          .replace('requesterPasswordEnv: CHANGE-ME', `requesterPasswordEnv: ${REQUESTER_PASSWORD_ENV}`),
      );
      const files = [...ready.map((f) => join(out, f)), edited];
      const rt = join(scratch, 'round-trip');
      const run = jitc(['run', ...files.flatMap((f) => ['--scenario-file', f]), '--target', 'external', '--config', config, '--out', rt], { ...own.env, [REQUESTER_PASSWORD_ENV]: requesterPassword });
      expect(run.code, run.stdout + run.stderr).toBe(1);
      const summary = JSON.parse(readFileSync(join(rt, 'summary.json'), 'utf8')) as Summary;
      expect(summary.scenarios.map((s) => s.id).sort()).toEqual([...ready.map((f) => f.replace(/\.yaml$/, '')), 'group-protected-readers'].sort());
      const check = (id: string, name: string): string | undefined => summary.scenarios.find((s) => s.id === id)?.checks.find((c) => c.name === name)?.verdict;
      const failed = (id: string): string[] => summary.scenarios.find((s) => s.id === id)!.checks.filter((c) => c.verdict === 'fail').map((c) => `${c.name}: ${c.detail}`);
      // Each ran its whole lifecycle on the organisation's own objects (the engine adds lifecycle-completed only when one did
      // not), except the AppRole that issues no secret_id at all; and each grant worked.
      for (const s of summary.scenarios.filter((x) => x.id !== 'approle-open')) {
        expect(check(s.id, 'lifecycle-completed'), `${s.id}: ${JSON.stringify(s.checks)}`).toBeUndefined();
        expect(check(s.id, 'grant-usable'), s.id).toBe('pass');
      }
      expect(check('token-role-ci-forever', 'role-within-window')).toBe('fail');
      expect(check('approle-open', 'role-trust-narrow')).toBe('fail');
      expect(check('role-app-anyone', 'role-trust-narrow')).toBe('fail');
      expect(check('role-app-anyone', 'role-within-window')).toBe('fail');
      for (const id of ['token-role-ci-short', 'token-role-ci-tiny', 'approle-deploy', 'group-protected-readers']) expect(failed(id), id).toEqual([]);
      // With its password named, the requester's standing privilege is probed, and it holds none.
      expect(check('group-protected-readers', 'zero-standing-privilege')).toBe('pass');
      // moto does not expire assumed-role sessions (waivers/local.yaml): only the role's own settings are asserted.
      expect(check('role-app-narrow', 'role-within-window')).toBe('pass');
      expect(check('role-app-narrow', 'role-trust-narrow')).toBe('pass');
    }, 240_000);
  });
});

describe('jitc discover into a directory it wrote before', () => {
  test('replaces its own files, keeps a file edited since (refusing the run), and refuses a directory it did not write', () => {
    const dir = join(scratch, 'again');
    const args = ['discover', '--suite', 'vault', '--target', 'external', '--config', config, '--out', dir];
    const first = jitc(args, own.env);
    expect(first.code, first.stdout + first.stderr).toBe(1);
    const second = jitc(args, own.env);
    expect(second.code, second.stdout + second.stderr).toBe(1);

    const edited = join(dir, 'token-role-no-secret.yaml');
    writeFileSync(edited, readFileSync(edited, 'utf8').replace('secretPath: CHANGE-ME', 'secretPath: secret/data/app/db'));
    const snapshotOfDir = readdirSync(dir).sort();
    expectRefused(jitc(args, own.env), /token-role-no-secret\.yaml was edited since jitc discover wrote it/);
    expect(readdirSync(dir).sort()).toEqual(snapshotOfDir);
    expect(readFileSync(edited, 'utf8')).toContain('secretPath: secret/data/app/db');

    const foreign = join(scratch, 'foreign');
    cpSync(join(dir, 'opt-in'), foreign, { recursive: true });
    expectRefused(jitc(['discover', '--suite', 'vault', '--target', 'external', '--config', config, '--out', foreign], own.env), /is not empty and is not a jitc output directory/);
  }, 120_000);
});

describe('jitc discover with hundreds of roles', () => {
  test('300 token roles give 300 scenarios in one command, read in parallel within a bound', async () => {
    const bulk = Array.from({ length: 300 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < bulk.length; i += 25) {
      await Promise.all(bulk.slice(i, i + 25).map((name) => vault.call('POST', `auth/token/roles/${name}`, { allowed_policies: ['app-read'], token_explicit_max_ttl: '4s' })));
    }
    const dir = join(scratch, 'bulk');
    const started = Date.now();
    const r = jitc(['discover', '--suite', 'vault', '--target', 'external', '--config', config, '--out', dir], own.env);
    const took = Date.now() - started;
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const written = yamlIn(dir).filter((f) => f.startsWith('token-role-bulk-'));
    expect(written).toHaveLength(300);
    // One command reads and writes them all well within a minute, even on a shared machine.
    expect(took).toBeLessThan(60_000);
    expect(verdictOf(findings(dir), /token role bulk-299$/, 'role-within-window')).toBe('pass');
  }, 180_000);
});
