/**
 * Scenarios naming existing objects are refused at load when they ask for anything that would
 * change those objects (a broken setup, a policy of the broker's own, a trust edit), and accepted
 * with exactly the params `jitc discover` writes.
 */
import { describe, expect, test } from 'vitest';
import { toScenario } from '../../scenarios/load.ts';
import { InputError } from '../../scenarios/input.ts';

function file(adapter: string, grant: Record<string, unknown>, use: Record<string, unknown>): Record<string, unknown> {
  return {
    id: 'existing',
    title: 'existing objects',
    proves: 'A grant made with the user\'s own configuration ends with the task.',
    adapter,
    severity: 'high',
    grant,
    use,
    task: { windowSeconds: 300, needs: ['read'] },
    end: { mode: 'expire' },
    reuse: { deadlineSeconds: 5 },
  };
}

const vaultUse = { point: 'kv-secret', params: { existing: { secretPath: 'secret/data/app/db', requesterTokenEnv: 'REQ' } } };
const awsUse = { point: 's3-object', params: { existing: { objectArn: 'arn:aws:s3:::app-data/q1.txt' } } };
const ldapUse = { point: 'entry', params: { existing: { entryDn: 'cn=p,dc=x', attribute: 'description', grantGroupDn: 'cn=g,dc=x' } } };

async function refusal(raw: Record<string, unknown>): Promise<string> {
  const error = await toScenario(raw, 'existing.yaml').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  return (error as Error).message;
}

describe('the params jitc discover writes load as they are', () => {
  test.each([
    ['a token role', file('vault', { source: 'token', params: { role: 'ci' } }, vaultUse)],
    ['an AppRole role under its mount', file('vault', { source: 'approle-secret-id', params: { role: 'worker', mount: 'approle-ci' } }, vaultUse)],
    ['an IAM role', file('aws', { source: 'assume-role', params: { roleArn: 'arn:aws:iam::111122223333:role/app-reader', durationSeconds: 900 } }, awsUse)],
    ['a directory group', file('ldap', { source: 'group-membership', params: { group: 'cn=app,dc=x', ttlSeconds: 60 } }, ldapUse)],
  ])('%s', async (_name, raw) => {
    const scenario = await toScenario(raw, 'existing.yaml');
    expect(scenario.grant.params).toMatchObject((raw.grant as { params: object }).params);
  });

  test('an existing role declares the role checks beside the lifecycle ones', async () => {
    const { getAdapter } = await import('../../adapters/registry.ts');
    const vault = await getAdapter('vault');
    expect(vault.grantSources.token!.checks({ role: 'ci', holderMayCreate: [], revokeAtEnd: 'token' })).toEqual(expect.arrayContaining(['role-within-window', 'role-trust-narrow']));
    expect(vault.grantSources.token!.checks({ ttlSeconds: 3, holderMayCreate: [], revokeAtEnd: 'token' })).not.toContain('role-within-window');
  });
});

describe('anything that would change an existing object is refused at load, naming the param', () => {
  test('a token role with a policy of the broker\'s own', async () => {
    expect(await refusal(file('vault', { source: 'token', params: { role: 'ci', holderMayCreate: ['child'] } }, vaultUse))).toMatch(/grant\.params\.holderMayCreate: not with role/);
  });

  test('a token without a role and without a TTL', async () => {
    expect(await refusal(file('vault', { source: 'token', params: {} }, vaultUse))).toMatch(/grant\.params\.ttlSeconds: required unless role names an existing token role/);
  });

  test('an AppRole role with settings of its own', async () => {
    expect(await refusal(file('vault', { source: 'approle-secret-id', params: { role: 'worker', secretIdTtlSeconds: 30 } }, vaultUse))).toMatch(/grant\.params\.secretIdTtlSeconds: not with role/);
  });

  test('an AppRole mount without a role', async () => {
    expect(await refusal(file('vault', { source: 'approle-secret-id', params: { mount: 'approle', secretIdNumUses: 1, secretIdTtlSeconds: 3, tokenTtlSeconds: 3 } }, vaultUse))).toMatch(/grant\.params\.mount: .*give role too/);
  });

  test('an existing secret with a broken setup', async () => {
    const use = { point: 'kv-secret', params: { existing: { secretPath: 'secret/data/app/db' }, defaultPolicyReadsSecret: true } };
    expect(await refusal(file('vault', { source: 'token', params: { role: 'ci' } }, use))).toMatch(/use\.params\.defaultPolicyReadsSecret: not with existing/);
  });

  test('a KV path that is not a v2 data path', async () => {
    const use = { point: 'kv-secret', params: { existing: { secretPath: 'secret/app/db' } } };
    expect(await refusal(file('vault', { source: 'token', params: { role: 'ci' } }, use))).toMatch(/use\.params\.existing\.secretPath: a KV v2 data path/);
  });

  test.each(['trustAnyPrincipal', 'identityTrusted', 'selfChaining'])('an IAM role with %s', async (key) => {
    const params = { roleArn: 'arn:aws:iam::111122223333:role/app-reader', durationSeconds: 900, [key]: true };
    expect(await refusal(file('aws', { source: 'assume-role', params }, awsUse))).toMatch(new RegExp(`grant\\.params\\.${key}: not with roleArn`));
  });

  test('an IAM role with actions of the broker\'s own', async () => {
    const params = { roleArn: 'arn:aws:iam::111122223333:role/app-reader', durationSeconds: 900, grantActions: ['s3:GetObject'] };
    expect(await refusal(file('aws', { source: 'assume-role', params }, awsUse))).toMatch(/grant\.params\.grantActions: not with roleArn/);
  });

  test('an existing entry with a standing membership set up', async () => {
    const use = { point: 'entry', params: { ...ldapUse.params, standingMembership: true } };
    expect(await refusal(file('ldap', { source: 'group-membership', params: { ttlSeconds: 60 } }, use))).toMatch(/use\.params\.standingMembership: not with existing/);
  });

  test('a requester password without the requester', async () => {
    const use = { point: 'entry', params: { existing: { ...ldapUse.params.existing, requesterPasswordEnv: 'PW' } } };
    expect(await refusal(file('ldap', { source: 'group-membership', params: { ttlSeconds: 60 } }, use))).toMatch(/requesterPasswordEnv: names the password of existing\.requesterDn/);
  });
});

describe('an end the existing object cannot give is refused at load', () => {
  test('an existing IAM role ends only by expiry: revoking its sessions would write a policy onto it', async () => {
    const raw = { ...file('aws', { source: 'assume-role', params: { roleArn: 'arn:aws:iam::123456789012:role/app-reader', durationSeconds: 900 } }, awsUse), end: { mode: 'revoke' } };
    expect(await refusal(raw)).toMatch(/existing\.yaml: end\.mode: aws\/assume-role with these grant\.params can only end by expire, not revoke/);
  });
});
