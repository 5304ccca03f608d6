/**
 * The embedded AWS: a real `moto_server` (PyPI moto[server]) on 127.0.0.1 with IAM enforcement ON.
 *
 * moto checks signatures and identity policies only once INITIAL_NO_AUTH_ACTION_COUNT requests have
 * passed unchecked (docs: moto "IAM-like Access Control"; default infinity, i.e. never). The server
 * starts with the default so the harness can create its admin principal — an IAM user with an
 * Allow-everything policy and an access key — and then sets the count to 0 through moto's own
 * `/moto-api/reset-auth` endpoint. From then on every request is SigV4-checked against the stored
 * secret and authorised against the caller's IAM policies; start() proves it before returning.
 */
import { CreateAccessKeyCommand, CreateUserCommand, ListUsersCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import type { ProvisionOptions, StartedTarget, TargetConnection } from '../contract.ts';
import { resolveCommand } from '../install.ts';
import { freePort, startLocalServer } from '../local-process.ts';
import { callerIdentity, destroyAll, partitionOf, provisioningClients } from './client.ts';
import { describeAwsError } from './probes.ts';

export const MOTO_PIN = 'moto[server]==5.2.5';
const MOTO_VERSION = MOTO_PIN.split('==')[1] ?? 'unknown';
export const LOCAL_REGION = 'us-east-1';
/** Not `jitc-…`: `jitc cleanup` sweeps that prefix, and must never remove the target's own admin. */
export const MOTO_ADMIN = 'harness-admin';

async function answers(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
  await response.body?.cancel();
  return response.ok;
}

/** Switch moto's IAM enforcement on for every later request (count of unchecked requests = 0). */
async function enforceFromNow(endpoint: string): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/reset-auth`, {
    method: 'POST',
    // moto reads the raw body as a number; a form content type would hide it from moto.
    headers: { 'content-type': 'text/plain' },
    body: '0',
    signal: AbortSignal.timeout(5000),
  });
  if (!response.ok) throw new Error(`moto refused to switch IAM enforcement on: HTTP ${response.status}`);
  await response.body?.cancel();
}

/** Create the admin principal while moto still lets requests through unchecked. */
async function bootstrapAdmin(endpoint: string): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  // Nothing is checked yet: any signature passes, so the placeholder credential is no secret.
  const c = provisioningClients(LOCAL_REGION, endpoint, { accessKeyId: 'bootstrap', secretAccessKey: 'bootstrap' });
  try {
    await c.iam.send(new CreateUserCommand({ UserName: MOTO_ADMIN }));
    await c.iam.send(
      new PutUserPolicyCommand({
        UserName: MOTO_ADMIN,
        PolicyName: 'administrator',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
      }),
    );
    const key = await c.iam.send(new CreateAccessKeyCommand({ UserName: MOTO_ADMIN }));
    if (!key.AccessKey?.AccessKeyId || !key.AccessKey.SecretAccessKey) throw new Error('moto created no access key for the admin');
    return { accessKeyId: key.AccessKey.AccessKeyId, secretAccessKey: key.AccessKey.SecretAccessKey };
  } finally {
    destroyAll(c);
  }
}

/** Enforcement must really be on: a request signed with a wrong secret is refused. */
async function assertEnforced(endpoint: string, accessKeyId: string): Promise<void> {
  const forged = provisioningClients(LOCAL_REGION, endpoint, { accessKeyId, secretAccessKey: 'not-the-secret' });
  try {
    await forged.iam.send(new ListUsersCommand({}));
  } catch (error) {
    if (describeAwsError(error).code === 'SignatureDoesNotMatch') return;
    throw new Error(`moto IAM enforcement check: expected SignatureDoesNotMatch, got ${describeAwsError(error).code}`);
  } finally {
    destroyAll(forged);
  }
  throw new Error('moto IAM enforcement is off: a request signed with a wrong secret was accepted');
}

export async function startMoto(options: ProvisionOptions): Promise<StartedTarget> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const server = await startLocalServer({
    name: 'moto_server',
    command: resolveCommand(options.projectRoot, 'moto_server'),
    args: ['-H', '127.0.0.1', '-p', String(port)],
    env: { PATH: process.env.PATH, HOME: options.workDir },
    workDir: options.workDir,
    projectRoot: options.projectRoot,
    runId: options.runId,
    ready: () => answers(`${endpoint}/moto-api/`),
  });
  try {
    const admin = await bootstrapAdmin(endpoint);
    await enforceFromNow(endpoint);
    await assertEnforced(endpoint, admin.accessKeyId);
    const c = provisioningClients(LOCAL_REGION, endpoint, admin);
    const me = await callerIdentity(c.sts).finally(() => destroyAll(c));
    options.log(`aws: moto ${MOTO_VERSION} on ${endpoint} (pid ${server.pid}), IAM enforcement on, admin ${me.arn}`);
    const connection: TargetConnection = {
      adapter: 'aws',
      mode: 'local',
      address: endpoint,
      settings: {
        endpoint,
        region: LOCAL_REGION,
        accessKeyId: admin.accessKeyId,
        secretAccessKey: admin.secretAccessKey,
        account: me.account,
        partition: partitionOf(me.arn),
        brokerArn: me.arn,
      },
      secretSettings: ['secretAccessKey'],
      facts: {
        product: 'moto',
        version: MOTO_VERSION,
        mode: 'local moto_server',
        enforcement: 'SigV4 signatures and IAM identity policies checked (INITIAL_NO_AUTH_ACTION_COUNT=0 after the admin bootstrap)',
        account: me.account,
        region: LOCAL_REGION,
      },
    };
    return { connection, pid: server.pid, stop: server.stop };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
