/**
 * Reaching AWS and sweeping it, against a real moto_server: the `external` mode as a real account
 * is reached (SDK default credential chain from the environment, here pointed at moto), and
 * `jitc cleanup` finding what a killed run left — and nothing that is not provably the harness's.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, CreateUserCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import awsAdapter from '../../adapters/aws/index.ts';
import type { AwsClient } from '../../adapters/aws/client.ts';
import { entitlementsOf, usersMatching } from '../../adapters/aws/iam-read.ts';
import { awsTargets } from '../../adapters/aws/targets.ts';
import { type StartedTarget } from '../../adapters/contract.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { pairContexts } from '../support/half-contexts.ts';
import { testRunId } from '../support/run-id.ts';
import { InputError, PROJECT_ROOT } from '../../scenarios/input.ts';
import { targetsOf } from '../support/bound.ts';

let target: StartedTarget;
let admin: AwsClient;
const CREDENTIAL_VARS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'];
const saved = Object.fromEntries(CREDENTIAL_VARS.map((name) => [name, process.env[name]]));

beforeAll(async () => {
  const local = awsAdapter.targets.local!;
  target = await local.start({ runId: testRunId(), workDir: mkdtempSync(join(tmpdir(), 'jitc-aws-targets-')), projectRoot: PROJECT_ROOT, config: {}, log: () => undefined });
  admin = await awsAdapter.connect(target.connection);
}, 60_000);

afterAll(async () => {
  if (admin) await awsAdapter.disconnect?.(admin);
  await target?.stop();
});

afterEach(() => {
  for (const name of CREDENTIAL_VARS) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

function external(config: Record<string, unknown>) {
  return awsTargets.external!.connect({ runId: 'r1', workDir: '/tmp', projectRoot: PROJECT_ROOT, config, log: () => undefined });
}

describe('external mode, through the SDK default credential chain', () => {
  test('credentials from the environment are used, and none of them is written into the connection', async () => {
    process.env.AWS_ACCESS_KEY_ID = target.connection.settings.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = target.connection.settings.secretAccessKey;
    const connection = await external({ region: 'us-east-1', endpoint: target.connection.address });
    expect(connection.settings.brokerArn).toBe(target.connection.settings.brokerArn);
    expect(connection.secretSettings).toEqual([]);
    expect(JSON.stringify(connection)).not.toContain(target.connection.settings.secretAccessKey!);
  });

  test('a credential the account refuses is one InputError line naming AWS answer', async () => {
    process.env.AWS_ACCESS_KEY_ID = target.connection.settings.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = 'not-the-secret-key';
    const error = await external({ region: 'us-east-1', endpoint: target.connection.address }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(/^external aws target: the AWS SDK default credential chain gives no usable credential \(HTTP 403 SignatureDoesNotMatch/);
    expect((error as Error).message).not.toContain('\n');
  });

  test('a broker working through a role session is trusted by its role, not by one session name', async () => {
    const roleName = 'broker-role-for-external-test';
    const role = await admin.iam.send(
      new CreateRoleCommand({
        RoleName: roleName,
        AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: admin.brokerArn }, Action: 'sts:AssumeRole' }] }),
      }),
    );
    await admin.iam.send(
      new PutRolePolicyCommand({ RoleName: roleName, PolicyName: 'read-itself', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:GetRole', Resource: '*' }] }) }),
    );
    const session = await admin.sts.send(new AssumeRoleCommand({ RoleArn: role.Role!.Arn, RoleSessionName: 'ci-job-42', DurationSeconds: 900 }));
    process.env.AWS_ACCESS_KEY_ID = session.Credentials!.AccessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = session.Credentials!.SecretAccessKey;
    process.env.AWS_SESSION_TOKEN = session.Credentials!.SessionToken;
    const connection = await external({ region: 'us-east-1', endpoint: target.connection.address });
    expect(connection.settings.brokerArn).toBe(role.Role!.Arn);
  });
});

describe("external mode keeps the broker's own secrets out of every result", () => {
  test('a broker working through a role session has its secret key and session token registered and redacted in a scenario run', async () => {
    const roleName = 'broker-role-for-redaction-test';
    const role = await admin.iam.send(
      new CreateRoleCommand({
        RoleName: roleName,
        AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: admin.brokerArn }, Action: 'sts:AssumeRole' }] }),
      }),
    );
    await admin.iam.send(
      new PutRolePolicyCommand({ RoleName: roleName, PolicyName: 'broker', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }) }),
    );
    const session = await admin.sts.send(new AssumeRoleCommand({ RoleArn: role.Role!.Arn, RoleSessionName: 'ci-job-43', DurationSeconds: 900 }));
    const secretKey = session.Credentials!.SecretAccessKey!;
    const token = session.Credentials!.SessionToken!;
    process.env.AWS_ACCESS_KEY_ID = session.Credentials!.AccessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = secretKey;
    process.env.AWS_SESSION_TOKEN = token;
    const connection = await external({ region: 'us-east-1', endpoint: target.connection.address });
    expect(connection.secretSettings).toEqual([]);

    const scenario = (await loadBuiltinScenarios(['aws'])).find((s) => s.id === 'temporary-policy-binding')!;
    const client = await awsAdapter.connect(connection);
    const secrets = new SecretRegistry();
    try {
      const result = await runScenario(scenario, { runId: testRunId(), targets: targetsOf({ adapter: awsAdapter, client, connection }), signal: new AbortController().signal, secrets });
      expect(result.verdict, result.checks.map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n')).toBe('pass');
      expect(secrets.values()).toEqual(expect.arrayContaining([secretKey, token]));
      const text = JSON.stringify(result);
      expect(text).not.toContain(secretKey);
      expect(text).not.toContain(token);
      // The redaction of a value that does reach a text: its fingerprint instead.
      expect(secrets.redact(`broker ${secretKey}`)).toMatch(/^broker \[redacted sha256:[0-9a-f]{12}\]$/);
    } finally {
      await awsAdapter.disconnect?.(client);
    }
  });
});

describe('cleanup of a killed run', () => {
  /** A run killed after its grant: setup (both halves) and request happened, end and teardown never did. */
  async function killedAfterGrant(runId: string, scenarioId: string, pair: string, params: Record<string, unknown>): Promise<void> {
    const { point, source, useCtx, grantCtx } = pairContexts(awsAdapter, pair, admin, target.connection, {
      runId,
      scenarioId,
      params,
      task: { windowSeconds: 60, approver: 'test', needs: ['s3:GetObject'] },
    });
    grantCtx.resource = await point.setup(useCtx);
    await source.setup(grantCtx);
    await source.request(grantCtx);
  }

  test('removes everything a killed run left, only that run, and nothing it cannot prove is the harness', async () => {
    const killed = testRunId();
    const other = testRunId();
    await killedAfterGrant(killed, 'binding', 'policy-binding', { binding: 'group-membership' });
    await killedAfterGrant(killed, 'session', 'assume-role', { durationSeconds: 900 });
    await killedAfterGrant(killed, 'key', 'access-key', {});
    await killedAfterGrant(other, 'key', 'access-key', {});
    // Shares the run prefix but carries no run tag: not provably ours.
    await admin.iam.send(new CreateUserCommand({ UserName: `jitc-${killed}-someone-else` }));

    const ofKilled = (name: string): boolean => name.startsWith(`jitc-${killed}-`);
    expect((await entitlementsOf(admin.iam, ofKilled)).length).toBeGreaterThan(5);

    const sweep = await awsAdapter.cleanup(admin, killed);
    expect(sweep.failed).toEqual([]);
    for (const what of [
      `iam role jitc-${killed}-session.role`,
      `iam user jitc-${killed}-key.worker`,
      `iam group jitc-${killed}-binding.group`,
      `managed policy jitc-${killed}-binding.grant`,
      `s3 bucket jitc-${killed}-key`,
    ]) {
      expect(sweep.removed).toContain(what);
    }
    expect(sweep.removed.some((r) => r.startsWith('access key ') && r.endsWith(`of jitc-${killed}-key.worker`))).toBe(true);

    expect(await entitlementsOf(admin.iam, ofKilled)).toEqual([`iam-user:jitc-${killed}-someone-else`]);
    expect(await usersMatching(admin.iam, (n) => n.startsWith(`jitc-${other}-`))).toHaveLength(2);
    expect(await awsAdapter.cleanup(admin, killed)).toEqual({ removed: [], failed: [] });

    // Without a run id, every tagged jitc run goes.
    const all = await awsAdapter.cleanup(admin, undefined);
    expect(all.removed).toContain(`iam user jitc-${other}-key.worker`);
    expect(await usersMatching(admin.iam, (n) => n.startsWith('jitc-'))).toEqual([`jitc-${killed}-someone-else`]);
  });
});
