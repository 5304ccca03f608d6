/**
 * Scenarios that name the user's existing objects exercise them as they are: against targets the
 * test starts as an operator's own (an OpenBao, a moto, a slapd), "the user's" token roles, AppRole
 * role, IAM roles and directory group are created first with the admin clients; the target's
 * configuration is read before and after the scenarios run through the engine, and must be equal —
 * the run created nothing but its grants, and removed those. The conformant objects pass; the token
 * role whose max TTL is far past the window fails `role-within-window`, the role trusting "*" fails
 * `role-trust-narrow`.
 *
 * Then what each point of use states about a credential it did not see issued (`inspect`), and
 * what the holder of such a credential can stretch at it (`extensions`), against the same targets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAccessKeysCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateBucketCommand, ListBucketsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { Attribute } from 'ldapts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Adapter, CredentialFacts, GrantRecord, PointOfUse, ScenarioContext } from '../../adapters/contract.ts';
import type { AwsClient } from '../../adapters/aws/client.ts';
import { LONG_TERM_KEY } from '../../adapters/aws/key-facts.ts';
import { grantDocument, trustDocument } from '../../adapters/aws/policies.ts';
import { addMember, connectLdap, type LdapClient, removeMember, values } from '../../adapters/ldap/client.ts';
import { refreshTtl } from '../../adapters/ldap/dynamic-objects.ts';
import { sshaHash } from '../../adapters/ldap/passwords.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { connectVault, type VaultClient } from '../../adapters/vault/client.ts';
import type { BoundTarget } from '../../scenarios/engine.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { toScenario } from '../../scenarios/load.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { pairContexts } from '../support/half-contexts.ts';
import { type OwnTargets, startOwnTargets } from '../support/own-targets.ts';
import { testRunId } from '../support/run-id.ts';

/** Short windows, so the scenarios that end by expiry or revoke finish in seconds. */
const VAULT_WINDOW = 8;
/** AWS allows no MaxSessionDuration under an hour: a conformant role needs a window of at least that. The session itself lasts 3 s. */
const AWS_WINDOW = 3600;
const LDAP_WINDOW = 4;

const SECRET_PATH = 'secret/data/app/db';
const ENV = {
  vaultRequester: 'JITC_TEST_EXISTING_VAULT_REQUESTER',
  awsKeyId: 'JITC_TEST_EXISTING_AWS_KEY_ID',
  awsSecret: 'JITC_TEST_EXISTING_AWS_SECRET',
  ldapPassword: 'JITC_TEST_EXISTING_LDAP_PASSWORD',
} as const;

let dir: string;
let own: OwnTargets;
let vault: VaultClient;
let aws: AwsClient;
let ldap: LdapClient;
let adapters: Record<'vault' | 'aws' | 'ldap', Adapter>;
let targets: Record<string, BoundTarget>;
const secrets = new SecretRegistry();

/** "The user's" objects, as the admin clients created them. */
const user = {
  bucket: 'app-data',
  key: 'reports/q1.txt',
  objectArn: 'arn:aws:s3:::app-data/reports/q1.txt',
  narrowRoleArn: '',
  openRoleArn: '',
  ldapGroup: '',
  ldapRequester: '',
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'jitc-existing-'));
  own = await startOwnTargets(dir);
  vault = connectVault(own.connections.vault!);
  adapters = { vault: await getAdapter('vault'), aws: await getAdapter('aws'), ldap: await getAdapter('ldap') };
  aws = (await adapters.aws.connect(own.connections.aws!)) as AwsClient;
  ldap = connectLdap(own.connections.ldap!);
  targets = {
    vault: { adapter: adapters.vault, client: vault, connection: own.connections.vault! },
    aws: { adapter: adapters.aws, client: aws, connection: own.connections.aws! },
    ldap: { adapter: adapters.ldap, client: ldap, connection: own.connections.ldap! },
  };
  for (const connection of Object.values(own.connections)) for (const key of connection.secretSettings) secrets.add(connection.settings[key] ?? '');
  await Promise.all([createVaultObjects(), createAwsObjects(), createLdapObjects()]);
}, 240_000);

afterAll(async () => {
  for (const name of Object.values(ENV)) delete process.env[name];
  await adapters?.aws.disconnect?.(aws).catch(() => undefined);
  await ldap?.admin.close();
  await own?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function createVaultObjects(): Promise<void> {
  const api = vault.api;
  const value = `app db password ${Date.now()}`;
  secrets.add(value);
  await api.call('POST', SECRET_PATH, { data: { value } });
  await api.call('PUT', 'sys/policies/acl/app-read', { policy: `path "${SECRET_PATH}" {\n  capabilities = ["read"]\n}\n` });
  await api.call('POST', 'auth/token/roles/app-ci', { allowed_policies: ['app-read'], token_explicit_max_ttl: `${VAULT_WINDOW}s` });
  await api.call('POST', 'auth/token/roles/app-ci-long', { allowed_policies: ['app-read'], token_explicit_max_ttl: '24h' });
  await api.call('POST', 'sys/auth/approle', { type: 'approle' });
  await api.call('POST', 'auth/approle/role/app-worker', {
    token_policies: ['app-read'],
    secret_id_ttl: `${VAULT_WINDOW}s`,
    secret_id_num_uses: 1,
    token_ttl: `${VAULT_WINDOW}s`,
    token_max_ttl: `${VAULT_WINDOW}s`,
  });
  const requester = await api.call<{ auth: { client_token: string } }>('POST', 'auth/token/create', { policies: ['default'], ttl: '30m', display_name: 'app-requester' });
  secrets.add(requester.auth.client_token);
  process.env[ENV.vaultRequester] = requester.auth.client_token;
}

async function createAwsObjects(): Promise<void> {
  const { iam, s3, partition, brokerArn } = aws;
  const content = `quarterly report ${Date.now()}`;
  await s3.send(new CreateBucketCommand({ Bucket: user.bucket }));
  await s3.send(new PutObjectCommand({ Bucket: user.bucket, Key: user.key, Body: content }));
  const read = JSON.stringify(grantDocument(['s3:GetObject'], { partition, bucket: user.bucket, key: user.key }));
  const narrow = await iam.send(new CreateRoleCommand({ RoleName: 'app-reader', AssumeRolePolicyDocument: JSON.stringify(trustDocument([brokerArn])), MaxSessionDuration: 3600 }));
  await iam.send(new PutRolePolicyCommand({ RoleName: 'app-reader', PolicyName: 'read-report', PolicyDocument: read }));
  const open = await iam.send(new CreateRoleCommand({ RoleName: 'app-reader-open', AssumeRolePolicyDocument: JSON.stringify(trustDocument(['*'])), MaxSessionDuration: 3600 }));
  await iam.send(new PutRolePolicyCommand({ RoleName: 'app-reader-open', PolicyName: 'read-report', PolicyDocument: read }));
  user.narrowRoleArn = narrow.Role!.Arn!;
  user.openRoleArn = open.Role!.Arn!;
  await iam.send(new CreateUserCommand({ UserName: 'app-user' }));
  const key = await iam.send(new CreateAccessKeyCommand({ UserName: 'app-user' }));
  secrets.add(key.AccessKey!.SecretAccessKey!);
  process.env[ENV.awsKeyId] = key.AccessKey!.AccessKeyId!;
  process.env[ENV.awsSecret] = key.AccessKey!.SecretAccessKey!;
}

async function createLdapObjects(): Promise<void> {
  const { layout } = ldap;
  user.ldapGroup = `cn=app-readers,${layout.groupsDn}`;
  user.ldapRequester = `cn=app-user,${layout.accountsDn}`;
  const password = `pw-${Date.now()}-existing`;
  secrets.add(password);
  process.env[ENV.ldapPassword] = password;
  await ldap.admin.use((c) =>
    c.add(user.ldapRequester, [
      new Attribute({ type: 'objectClass', values: layout.accountObjectClasses }),
      new Attribute({ type: 'cn', values: ['app-user'] }),
      new Attribute({ type: 'userPassword', values: [sshaHash(password)] }),
    ]),
  );
  await ldap.admin.use((c) => c.add(user.ldapGroup, { objectClass: [layout.groupObjectClass], cn: 'app-readers', member: [layout.emptyMember] }));
  // The ACL grants the read through the layout's grant group, nested groups included: the user's group is nested in it.
  await addMember(ldap, layout.grantGroupDn, user.ldapGroup);
}

/** The Vault configuration a run could change: roles, policies, mounts and their tunes, the secret's metadata and data. */
async function vaultConfiguration(): Promise<unknown> {
  const api = vault.api;
  const list = async (path: string): Promise<string[]> => {
    try {
      return (await api.call<{ data: { keys: string[] } }>('LIST', path)).data.keys.sort();
    } catch {
      return [];
    }
  };
  const get = async (path: string): Promise<unknown> => (await api.call<{ data: unknown }>('GET', path)).data;
  const all = async (paths: string[]): Promise<Record<string, unknown>> => Object.fromEntries(await Promise.all(paths.map(async (p) => [p, await get(p)])));
  const auth = (await api.call<{ data: Record<string, unknown> }>('GET', 'sys/auth')).data;
  const approleRoles = await list('auth/approle/role');
  return {
    tokenRoles: await all((await list('auth/token/roles')).map((r) => `auth/token/roles/${r}`)),
    approleRoles: await all(approleRoles.map((r) => `auth/approle/role/${r}`)),
    approleSecretIds: Object.fromEntries(await Promise.all(approleRoles.map(async (r) => [r, await list(`auth/approle/role/${r}/secret-id`)]))),
    policies: await all((await list('sys/policies/acl')).map((p) => `sys/policies/acl/${p}`)),
    auth,
    tunes: await all(Object.keys(auth).map((m) => `sys/auth/${m.replace(/\/$/, '')}/tune`)),
    mounts: (await api.call<{ data: unknown }>('GET', 'sys/mounts')).data,
    secret: await get(SECRET_PATH),
  };
}

/** The AWS configuration: every role with its trust and policies, every user with its keys and policies, every bucket's objects. */
async function awsConfiguration(): Promise<unknown> {
  const { iam, s3 } = aws;
  const roles = [];
  for (const r of (await iam.send(new ListRolesCommand({}))).Roles ?? []) {
    const name = r.RoleName!;
    const role = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role!;
    const inline = [];
    for (const policy of (await iam.send(new ListRolePoliciesCommand({ RoleName: name }))).PolicyNames ?? []) {
      inline.push([policy, (await iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: policy }))).PolicyDocument]);
    }
    const attached = (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name }))).AttachedPolicies?.map((a) => a.PolicyArn);
    roles.push({ arn: role.Arn, path: role.Path, maxSessionDuration: role.MaxSessionDuration, trust: role.AssumeRolePolicyDocument, description: role.Description, inline, attached });
  }
  const users = [];
  for (const u of (await iam.send(new ListUsersCommand({}))).Users ?? []) {
    const keys = (await iam.send(new ListAccessKeysCommand({ UserName: u.UserName! }))).AccessKeyMetadata?.map((k) => `${k.AccessKeyId} ${k.Status}`).sort();
    const policies = (await iam.send(new ListUserPoliciesCommand({ UserName: u.UserName! }))).PolicyNames?.sort();
    users.push({ arn: u.Arn, keys, policies });
  }
  const buckets = [];
  for (const b of (await s3.send(new ListBucketsCommand({}))).Buckets ?? []) {
    const objects = (await s3.send(new ListObjectsV2Command({ Bucket: b.Name! }))).Contents?.map((o) => `${o.Key} ${o.ETag}`).sort();
    buckets.push({ name: b.Name, objects });
  }
  const byArn = (a: { arn?: string | undefined }, b: { arn?: string | undefined }): number => (a.arn ?? '').localeCompare(b.arn ?? '');
  return { roles: roles.sort(byArn), users: users.sort(byArn), buckets };
}

/** The directory's subtree, user attributes only (operational ones change on their own). */
async function ldapConfiguration(): Promise<unknown> {
  const result = await ldap.admin.search(ldap.layout.baseDn, { scope: 'sub', filter: '(objectClass=*)', attributes: ['*'] });
  return result.searchEntries
    .map((entry) => [entry.dn, Object.fromEntries(Object.keys(entry).filter((k) => k !== 'dn').sort().map((k) => [k, values(entry, k).sort()]))] as const)
    .sort(([a], [b]) => a.localeCompare(b));
}

const configuration = async (): Promise<unknown> => ({ vault: await vaultConfiguration(), aws: await awsConfiguration(), ldap: await ldapConfiguration() });

interface ScenarioSpec {
  id: string;
  adapter: 'vault' | 'aws' | 'ldap';
  grant: { source: string; params: Record<string, unknown> };
  use: { point: string; params: Record<string, unknown> };
  windowSeconds: number;
  end: Record<string, unknown>;
  deadlineSeconds: number;
}

/** A scenario file as `jitc discover` writes one, loaded through the loader like any other. */
function scenarioFile(spec: ScenarioSpec): Record<string, unknown> {
  return {
    id: spec.id,
    title: `existing objects: ${spec.id}`,
    proves: 'A grant made with the user\'s own configuration ends with the task, and nothing but the grant is created.',
    adapter: spec.adapter,
    severity: 'high',
    grant: spec.grant,
    use: spec.use,
    task: { windowSeconds: spec.windowSeconds, needs: ['read the task resource'] },
    end: spec.end,
    reuse: { deadlineSeconds: spec.deadlineSeconds },
  };
}

const vaultUse = (): ScenarioSpec['use'] => ({ point: 'kv-secret', params: { existing: { secretPath: SECRET_PATH, requesterTokenEnv: ENV.vaultRequester } } });
const awsUse = (): ScenarioSpec['use'] => ({
  point: 's3-object',
  params: { existing: { objectArn: user.objectArn, requesterKeysEnv: { accessKeyId: ENV.awsKeyId, secretAccessKey: ENV.awsSecret } } },
});

/** An existing IAM role assumed as it is: it can only end by expiry. */
function awsRoleSpec(id: string, roleArn: string): ScenarioSpec {
  return { id, adapter: 'aws', grant: { source: 'assume-role', params: { roleArn, durationSeconds: 3 } }, use: awsUse(), windowSeconds: AWS_WINDOW, end: { mode: 'expire', graceSeconds: 1 }, deadlineSeconds: 4 };
}

function specs(): ScenarioSpec[] {
  return [
    { id: 'existing-token-role', adapter: 'vault', grant: { source: 'token', params: { role: 'app-ci' } }, use: vaultUse(), windowSeconds: VAULT_WINDOW, end: { mode: 'revoke' }, deadlineSeconds: 3 },
    { id: 'existing-token-role-long', adapter: 'vault', grant: { source: 'token', params: { role: 'app-ci-long' } }, use: vaultUse(), windowSeconds: VAULT_WINDOW, end: { mode: 'revoke' }, deadlineSeconds: 3 },
    { id: 'existing-approle', adapter: 'vault', grant: { source: 'approle-secret-id', params: { role: 'app-worker' } }, use: vaultUse(), windowSeconds: VAULT_WINDOW, end: { mode: 'revoke' }, deadlineSeconds: 3 },
    awsRoleSpec('existing-role-narrow', user.narrowRoleArn),
    awsRoleSpec('existing-role-open', user.openRoleArn),
    {
      id: 'existing-group',
      adapter: 'ldap',
      grant: { source: 'group-membership', params: { group: user.ldapGroup, ttlSeconds: 3 } },
      use: {
        point: 'entry',
        params: {
          existing: {
            entryDn: ldap.layout.resourceDn,
            attribute: ldap.layout.resourceAttribute,
            grantGroupDn: ldap.layout.grantGroupDn,
            requesterDn: user.ldapRequester,
            requesterPasswordEnv: ENV.ldapPassword,
          },
        },
      },
      windowSeconds: LDAP_WINDOW,
      end: { mode: 'expire', graceSeconds: 2 },
      deadlineSeconds: 3,
    },
  ];
}

const summary = (r: ScenarioResult): string => r.checks.map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');
const verdictOf = (r: ScenarioResult, check: string): string | undefined => r.checks.find((c) => c.name === check)?.verdict;

describe('a run naming existing objects changes nothing on the target but the grant', () => {
  let before: unknown;
  let after: unknown;
  const results = new Map<string, ScenarioResult>();

  beforeAll(async () => {
    before = await configuration();
    const runId = testRunId();
    const signal = new AbortController().signal;
    setMaxListeners(0, signal);
    const scenarios = await Promise.all(specs().map((spec) => toScenario(scenarioFile(spec), `existing-objects/${spec.id}.yaml`)));
    for (const r of await Promise.all(scenarios.map((s) => runScenario(s, { runId, targets, signal, secrets })))) results.set(r.id, r);
    after = await configuration();
  }, 180_000);

  test("the target's configuration after the run equals the one before it", () => {
    expect(after).toEqual(before);
  });

  test.each(['existing-token-role', 'existing-approle', 'existing-group'])('the conformant %s passes', (id) => {
    const result = results.get(id)!;
    expect(result.verdict, summary(result)).toBe('pass');
    if (id !== 'existing-group') {
      expect(verdictOf(result, 'role-within-window'), summary(result)).toBe('pass');
      expect(verdictOf(result, 'role-trust-narrow'), summary(result)).toBe('pass');
    }
  });

  test('the narrowly trusted IAM role within the window passes both role checks; moto alone fails it, never expiring the session', () => {
    const result = results.get('existing-role-narrow')!;
    expect(verdictOf(result, 'role-within-window'), summary(result)).toBe('pass');
    expect(verdictOf(result, 'role-trust-narrow'), summary(result)).toBe('pass');
    // moto never reads an assumed-role session's Expiration (see aws.test.ts): the session outlives it, as reported.
    expect(result.checks.filter((c) => c.verdict !== 'pass').map((c) => `${c.name}=${c.verdict}`).sort(), summary(result)).toEqual(['credential-invalidated=fail', 'reuse-denied=fail']);
  });

  test('a token role whose max TTL is far past the window fails role-within-window, and its holder renews past the window', () => {
    const result = results.get('existing-token-role-long')!;
    expect(result.verdict, summary(result)).toBe('fail');
    expect(verdictOf(result, 'role-within-window'), summary(result)).toBe('fail');
    expect(verdictOf(result, 'holder-cannot-extend'), summary(result)).toBe('fail');
  });

  test('a role trusting "*" fails role-trust-narrow', () => {
    const result = results.get('existing-role-open')!;
    expect(result.verdict, summary(result)).toBe('fail');
    expect(verdictOf(result, 'role-trust-narrow'), summary(result)).toBe('fail');
    expect(result.checks.find((c) => c.name === 'role-trust-narrow')?.detail).toContain('* (any principal)');
  });

  test('the evidence names every existing object used and records it left unchanged', () => {
    for (const result of results.values()) {
      const said = result.evidence.map((e) => e.event);
      const used = said.filter((w) => /^existing .* used as it is/.test(w));
      expect(used.length, result.id).toBeGreaterThan(0);
      expect(said.filter((w) => /^existing .* left unchanged$/.test(w)).length, `${result.id}: ${said.join('\n')}`).toBe(used.length);
    }
  });

  test('no secret value appears in any result', () => {
    const text = JSON.stringify([...results.values()]);
    for (const value of secrets.values()) expect(text.includes(value)).toBe(false);
  });
});

/** A point of use's own context over the user's objects, as the engine builds it, set up by the point. */
async function pointContext<C>(adapter: Adapter<C>, pair: string, client: C, params: Record<string, unknown>, windowSeconds: number): Promise<{ point: PointOfUse<unknown, C>; ctx: ScenarioContext<unknown, C> }> {
  const { point, useCtx } = pairContexts(adapter, pair, client, targets[adapter.name]!.connection, {
    runId: testRunId(),
    scenarioId: `inspect-${pair}`,
    params,
    task: { windowSeconds, approver: 'test', needs: ['read the task resource'] },
  });
  setMaxListeners(0, useCtx.signal);
  await point.setup(useCtx);
  return { point, ctx: useCtx };
}

/** A grant record as a user's broker would have stated it: issued now, nothing else. */
function brokerGrant(): GrantRecord {
  return { credentialId: 'handed over', issuedAt: new Date().toISOString(), expiresAt: null, ttlRequestedSeconds: null, ttlGrantedSeconds: null, scopeGranted: [], attributes: {}, handles: [], extensions: [] };
}

describe.concurrent('what a point of use states about a credential it did not see issued', () => {
  test('kv-secret: Vault states a token\'s own expiry and lifetime through lookup-self, never the token', async () => {
    const { point, ctx } = await pointContext(adapters.vault as Adapter<VaultClient>, 'token', vault, { existing: { secretPath: SECRET_PATH }, role: 'app-ci' }, 60);
    const issued = await vault.api.call<{ auth: { client_token: string; accessor: string } }>('POST', 'auth/token/create', { policies: ['app-read'], ttl: '60s', explicit_max_ttl: '120s' });
    secrets.add(issued.auth.client_token);
    const credential = { type: 'vault-token' as const, token: issued.auth.client_token, accessor: issued.auth.accessor };
    const facts = (await point.inspect!(ctx, credential)) as CredentialFacts;
    expect(facts.ttlSeconds).toBe(60);
    expect(Date.parse(facts.expiresAt!) - Date.parse(facts.issuedAt!)).toBeGreaterThanOrEqual(59_000);
    expect(facts.attributes).toMatchObject({ accessor: issued.auth.accessor, renewable: true, explicitMaxTtlSeconds: 120, orphan: false });
    expect(facts.detail).toContain('lookup-self:');
    expect(JSON.stringify(facts)).not.toContain(issued.auth.client_token);
    await vault.api.call('POST', 'auth/token/revoke-accessor', { accessor: issued.auth.accessor });
    await expect(point.inspect!(ctx, credential)).rejects.toThrow(/did not answer with the token's data: HTTP 403 permission denied/);
    await point.teardown(ctx);
  });

  test('kv-secret: the holder of a periodic token without a cap renews it with no end, and what it mints is revoked at teardown', async () => {
    const { point, ctx } = await pointContext(adapters.vault as Adapter<VaultClient>, 'token', vault, { existing: { secretPath: SECRET_PATH }, role: 'app-ci' }, 60);
    const issued = await vault.api.call<{ auth: { client_token: string; accessor: string } }>('POST', 'auth/token/create', { policies: ['app-read'], period: '60s' });
    secrets.add(issued.auth.client_token);
    const credential = { type: 'vault-token' as const, token: issued.auth.client_token, accessor: issued.auth.accessor };
    const facts = await point.inspect!(ctx, credential);
    expect(facts?.attributes.renewsWithoutEnd).toBe(true);
    const attempts = point.extensions!(ctx, credential, brokerGrant());
    expect(attempts.map((a) => a.name)).toEqual([expect.stringMatching(/^renew-self/), expect.stringMatching(/^child token/), expect.stringMatching(/^orphan token/)]);
    expect(await attempts[0]!.attempt('inside-window')).toMatchObject({ outcome: 'extended', reachesUntil: null });
    // app-read and default allow no token creation: Vault refuses the child.
    expect(await attempts[1]!.attempt('inside-window')).toMatchObject({ outcome: 'refused', detail: 'HTTP 403 permission denied' });
    await vault.api.call('POST', 'auth/token/revoke-accessor', { accessor: issued.auth.accessor });
    await point.teardown(ctx);
  });

  test('s3-object: a long-term key states no expiry, named with its user; a session is stated nothing about', async () => {
    const { point, ctx } = await pointContext(adapters.aws as Adapter<AwsClient>, 'assume-role', aws, { existing: { objectArn: user.objectArn }, roleArn: user.narrowRoleArn, durationSeconds: 3 }, 60);
    const key = { type: 'aws-keys' as const, accessKeyId: process.env[ENV.awsKeyId]!, secretAccessKey: process.env[ENV.awsSecret]! };
    const facts = await point.inspect!(ctx, key);
    expect(facts).toMatchObject({ expiresAt: null, ttlSeconds: null, attributes: { user: 'app-user', status: 'Active' } });
    expect(facts?.detail.startsWith(LONG_TERM_KEY)).toBe(true);
    const assumed = await aws.sts.send(new AssumeRoleCommand({ RoleArn: user.narrowRoleArn, RoleSessionName: 'inspect', DurationSeconds: 900 }));
    const c = assumed.Credentials!;
    secrets.add(c.SecretAccessKey!);
    secrets.add(c.SessionToken!);
    const session = { type: 'aws-keys' as const, accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
    expect(await point.inspect!(ctx, session)).toBeUndefined();
    await expect(point.inspect!(ctx, { ...key, accessKeyId: 'AKIAUNKNOWNKEY000000' })).rejects.toThrow(/AKIAUNKNOWNKEY000000/);
    await point.teardown(ctx);
  });

  test('s3-object: the holder of a key or a session is refused every extension AWS would otherwise give it', async () => {
    const { point, ctx } = await pointContext(adapters.aws as Adapter<AwsClient>, 'assume-role', aws, { existing: { objectArn: user.objectArn }, roleArn: user.narrowRoleArn, durationSeconds: 3 }, 60);
    const key = { type: 'aws-keys' as const, accessKeyId: process.env[ENV.awsKeyId]!, secretAccessKey: process.env[ENV.awsSecret]! };
    const keyAttempts = point.extensions!(ctx, key, brokerGrant());
    expect(keyAttempts.map((a) => a.name)).toEqual([
      expect.stringMatching(/^GetSessionToken/),
      expect.stringMatching(/^GetFederationToken/),
      expect.stringMatching(/^CreateAccessKey/),
      expect.stringMatching(/^CreateLoginProfile/),
    ]);
    // app-user holds no permission at all: moto refuses each with AccessDenied.
    for (const attempt of keyAttempts) expect(await attempt.attempt('inside-window'), attempt.name).toMatchObject({ outcome: 'refused' });
    const assumed = await aws.sts.send(new AssumeRoleCommand({ RoleArn: user.narrowRoleArn, RoleSessionName: 'chain', DurationSeconds: 900 }));
    const c = assumed.Credentials!;
    secrets.add(c.SecretAccessKey!);
    secrets.add(c.SessionToken!);
    const session = { type: 'aws-keys' as const, accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
    const [chain, ...rest] = point.extensions!(ctx, session, brokerGrant());
    expect(rest).toEqual([]);
    const chained = await chain!.attempt('inside-window');
    expect(chained.outcome, chained.detail).toBe('refused');
    expect(chained.detail).toContain('app-reader');
    await point.teardown(ctx);
  });

  test('entry: the privilege of a DN ends with the longest path into the grant group — a dynamic group\'s entryTtl, a static path never', async () => {
    const params = {
      existing: { entryDn: ldap.layout.resourceDn, attribute: ldap.layout.resourceAttribute, grantGroupDn: ldap.layout.grantGroupDn },
      ttlSeconds: 3,
    };
    const { point, ctx } = await pointContext(adapters.ldap as Adapter<LdapClient>, 'group-membership', ldap, params, 60);
    const bind = { type: 'ldap-bind' as const, dn: user.ldapRequester, password: process.env[ENV.ldapPassword]! };
    expect(await point.inspect!(ctx, bind)).toBeUndefined();
    expect(ctx.evidence.events.map((e) => e.event)).toContain(`no membership path from ${user.ldapRequester} into ${ldap.layout.grantGroupDn}: the directory states nothing about its privilege`);

    const dynamic = `cn=${ctx.prefix}.inspect-dynamic,${ldap.layout.groupsDn}`;
    await ldap.admin.use((c) => c.add(dynamic, { objectClass: [ldap.layout.groupObjectClass, 'dynamicObject'], cn: `${ctx.prefix}.inspect-dynamic`, member: [user.ldapRequester] }));
    await ldap.admin.use((c) => refreshTtl(c, dynamic, 30));
    await addMember(ldap, user.ldapGroup, dynamic);
    try {
      const facts = (await point.inspect!(ctx, bind))!;
      // entryTtl counts down: a read landing in the next second states 29.
      expect(facts.ttlSeconds).toBeGreaterThanOrEqual(28);
      expect(facts.ttlSeconds).toBeLessThanOrEqual(30);
      expect(Date.parse(facts.expiresAt!)).toBeGreaterThan(Date.now() + 20_000);
      expect(facts.detail).toContain(`${ldap.layout.grantGroupDn} <- ${user.ldapGroup} <- ${dynamic} <- ${user.ldapRequester}`);
      // The group's members and the holder may not refresh it or write themselves in: refused by the ACL.
      const [attempt] = point.extensions!(ctx, bind, brokerGrant());
      const tried = await attempt!.attempt('inside-window');
      expect(tried.outcome, tried.detail).toBe('refused');
      expect(tried.detail).toContain('insufficientAccessRights (50)');

      await addMember(ldap, user.ldapGroup, user.ldapRequester);
      const open = (await point.inspect!(ctx, bind))!;
      expect(open).toMatchObject({ expiresAt: null, ttlSeconds: null, attributes: { paths: 2, staticPaths: 1 } });
      expect(open.detail).toContain('a static path never ends');
    } finally {
      await removeMember(ldap, user.ldapGroup, user.ldapRequester).catch(() => undefined);
      await removeMember(ldap, user.ldapGroup, dynamic).catch(() => undefined);
      await ldap.admin.use((c) => c.del(dynamic)).catch(() => undefined);
      await point.teardown(ctx);
    }
  });
});
