/**
 * Each target's look-up of an object by name (Adapter.lookUp), against the real local servers:
 * an object that is there is `present`, one removed is `gone` from the target's own answer, and a
 * reference in another target's form is `unknown`, never gone.
 */
import { CreateRoleCommand, DeleteRoleCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Adapter, StartedTarget } from '../../adapters/contract.ts';
import type { AwsClient } from '../../adapters/aws/client.ts';
import type { LdapClient } from '../../adapters/ldap/client.ts';
import type { PgClient } from '../../adapters/postgres/client.ts';
import type { VaultClient } from '../../adapters/vault/client.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { testRunId } from '../support/run-id.ts';

const runId = testRunId();
const name = `jitc-${runId}-look-up`;
const NAMES = ['vault', 'aws', 'ldap', 'postgres'] as const;
const up: { adapter: Adapter; target: StartedTarget; client: unknown }[] = [];

beforeAll(async () => {
  const adapters = await Promise.all(NAMES.map((n) => getAdapter(n)));
  const started = await bringUp(adapters, { runId, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
  for (const [i, target] of started.entries()) up.push({ adapter: adapters[i]!, target, client: await adapters[i]!.connect(target.connection) });
}, 180_000);

afterAll(async () => {
  for (const { adapter, client, target } of up) {
    await adapter.disconnect?.(client).catch(() => undefined);
    await target.stop();
  }
});

function target<C>(adapterName: (typeof NAMES)[number]): { lookUp: (ref: string) => ReturnType<NonNullable<Adapter['lookUp']>>; client: C } {
  const found = up.find((u) => u.adapter.name === adapterName) ?? expect.unreachable(`${adapterName} did not start`);
  const lookUp = found.adapter.lookUp ?? expect.unreachable(`${adapterName} has no look-up`);
  return { lookUp: (ref) => lookUp(found.client, ref), client: found.client as C };
}

describe('OpenBao', () => {
  test('a policy is present while it exists and gone once deleted; a route that is no object, an ARN or an issuing read is unknown', async () => {
    const { lookUp, client } = target<VaultClient>('vault');
    const ref = `sys/policies/acl/${name}`;
    await client.api.call('PUT', ref, { policy: 'path "secret/data/none" { capabilities = ["read"] }' });
    expect((await lookUp(ref)).state).toBe('present');
    await client.api.call('DELETE', ref);
    expect(await lookUp(ref)).toEqual({ state: 'gone', detail: `GET ${ref}: HTTP 404` });
    // Vault's 404 for a path no mount serves says so: it names no object, so it is not read as gone.
    expect(await lookUp(`nowhere-mounted/role/${name}`)).toMatchObject({ state: 'unknown', detail: expect.stringMatching(/HTTP 404 .*no handler for route/) });
    expect(await lookUp('arn:aws:iam::123456789012:role/x')).toMatchObject({ state: 'unknown', detail: expect.stringMatching(/not a Vault API path/) });
    expect(await lookUp(`database/creds/${name}`)).toMatchObject({ state: 'unknown', detail: expect.stringMatching(/some reads issue/) });
  });
});

describe('moto (IAM)', () => {
  test("a role is present until deleted, then gone on NoSuchEntity; another account's ARN and a DN are unknown", async () => {
    const { lookUp, client } = target<AwsClient>('aws');
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: client.brokerArn }, Action: 'sts:AssumeRole' }] });
    const arn = (await client.iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust }))).Role?.Arn ?? '';
    expect(arn).toMatch(/^arn:aws:iam::\d{12}:role\//);
    expect((await lookUp(arn)).state).toBe('present');
    await client.iam.send(new DeleteRoleCommand({ RoleName: name }));
    expect(await lookUp(arn)).toMatchObject({ state: 'gone', detail: expect.stringMatching(/GetRole .*NoSuchEntity/) });
    expect(await lookUp(arn.replace(/::\d{12}:/, '::999999999999:'))).toMatchObject({ state: 'unknown', detail: expect.stringMatching(/not in this account/) });
    expect((await lookUp(`cn=${name},dc=jitc,dc=test`)).state).toBe('unknown');
  });
});

describe('slapd', () => {
  test('an entry is present until deleted, then gone on noSuchObject; a DN outside the base and a path are unknown', async () => {
    const { lookUp, client } = target<LdapClient>('ldap');
    const dn = `ou=${name},${client.layout.groupsDn}`;
    await client.admin.use((c) => c.add(dn, { objectClass: ['organizationalUnit'], ou: name }));
    expect((await lookUp(dn)).state).toBe('present');
    // The same DN spelt with other spaces and case.
    expect((await lookUp(dn.toUpperCase().replace(/,/g, ', '))).state).toBe('present');
    await client.admin.use((c) => c.del(dn));
    expect(await lookUp(dn)).toMatchObject({ state: 'gone', detail: expect.stringMatching(/noSuchObject \(32\)/) });
    expect(await lookUp(`ou=${name},dc=elsewhere`)).toMatchObject({ state: 'unknown', detail: expect.stringMatching(/outside the directory's base/) });
    expect(await lookUp(`sys/policies/acl/${name}`)).toMatchObject({ state: 'unknown', detail: expect.stringMatching(/not a DN/) });
  });
});

describe('PostgreSQL', () => {
  test('a role is present until dropped, then gone (no pg_roles row); an ARN is unknown', async () => {
    const { lookUp, client } = target<PgClient>('postgres');
    await client.admin.query(`CREATE ROLE "${name}"`);
    expect((await lookUp(name)).state).toBe('present');
    await client.admin.query(`DROP ROLE "${name}"`);
    expect(await lookUp(name)).toEqual({ state: 'gone', detail: `pg_roles: no role ${name}` });
    expect((await lookUp('arn:aws:iam::123456789012:role/x')).state).toBe('unknown');
  });
});
