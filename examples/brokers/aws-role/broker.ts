/**
 * A reference exec broker for AWS task sessions (README.md, "The exec contract"):
 *
 *   node --import tsx examples/brokers/aws-role/broker.ts request|end|renew|status [defect]
 *
 * request  makes (or finds again) a role named with JITC_PREFIX that only the broker's own
 *          identity may assume, with an inline policy allowing s3:GetObject on the task's object
 *          (JITC_TERM_AWS_OBJECT_ARN), assumes it for the approval window and answers the session
 *          as `aws-keys`, stating the session's own Expiration, and the role's ARN as what it
 *          made for the task (`made`: jitc looks it up after the end). The broker's approval rule
 *          is automatic: the approver is the one the task names.
 * end      removes the inline policy — S3 then refuses the session at once, though STS would let
 *          it live to its Expiration — and deletes the role.
 * renew    refuses: a longer grant needs a new approval (and an STS session cannot be extended).
 * status   says whether the role still carries the grant.
 *
 * Credentials, region and endpoint come from the usual AWS_* variables (the SDK's default chain).
 * AWS accepts DurationSeconds of 900 at least: a window shorter than 15 minutes works only on an
 * emulator (moto), which accepts any duration.
 *
 * The optional last word breaks the broker on purpose, for the project's tests (README.md):
 * forgets-to-end, says-revoked, grants-longer, durable, renews-without-approval, same-credential,
 * understated-expiry, keeps-role (at the end it removes the inline policy, which S3 refuses every
 * session for at once, but keeps the role), misnames-role (keeps it too, and names in `made` a role
 * the account does not hold).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  GetRolePolicyCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

const DEFECTS = ['forgets-to-end', 'says-revoked', 'grants-longer', 'durable', 'renews-without-approval', 'same-credential', 'understated-expiry', 'keeps-role', 'misnames-role'] as const;
type Defect = (typeof DEFECTS)[number];

interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const endpoint = process.env.AWS_ENDPOINT_URL || undefined;
const config = { ...(endpoint ? { endpoint } : {}), maxAttempts: 3 };
const iam = new IAMClient(config);
const sts = new STSClient(config);

/** IAM names: at most 64 characters, so a long prefix keeps its start (the run prefix cleanup sweeps) and gains a hash. */
function iamName(kind: string): string {
  const prefix = env('JITC_PREFIX');
  const name = `${prefix}.${kind}`;
  if (name.length <= 64) return name;
  const hash = createHash('sha256').update(prefix).digest('hex').slice(0, 8);
  return `${prefix.slice(0, 64 - kind.length - 10)}-${hash}.${kind}`;
}

const roleName = (): string => iamName('broker-role');
const userName = (): string => iamName('broker-user');
/** Tagged with the run, so `jitc cleanup` sweeps what a killed run left. */
const tags = (): { Key: string; Value: string }[] => [
  { Key: 'jitc:run', Value: env('JITC_RUN_ID') },
  { Key: 'jitc:task', Value: env('JITC_TASK_ID') },
];

function grantPolicy(): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: env('JITC_TERM_AWS_OBJECT_ARN') }] });
}

/** The role's trust names the broker itself: a session of a role is trusted as that role. */
async function brokerPrincipal(): Promise<string> {
  const me = await sts.send(new GetCallerIdentityCommand({}));
  const arn = me.Arn ?? '';
  const session = /^arn:([^:]+):sts::(\d+):assumed-role\/([^/]+)\//.exec(arn);
  return session ? `arn:${session[1]}:iam::${session[2]}:role/${session[3]}` : arn;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

/** Ignore "it is already gone": end and cleanup must be idempotent. */
async function unlessGone(action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (errorName(error) !== 'NoSuchEntityException' && errorName(error) !== 'NoSuchEntity') throw error;
  }
}

/** A new role (or the one an earlier attempt of this task left) carrying the task's grant. */
async function roleWithGrant(durationSeconds: number): Promise<string> {
  const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: await brokerPrincipal() }, Action: 'sts:AssumeRole' }] });
  let arn: string;
  try {
    // The role's longest session must allow the duration asked (AWS: 1 to 12 hours).
    const maxSession = Math.min(43_200, Math.max(3600, durationSeconds));
    const role = await iam.send(new CreateRoleCommand({ RoleName: roleName(), AssumeRolePolicyDocument: trust, MaxSessionDuration: maxSession, Tags: tags() }));
    arn = role.Role?.Arn ?? '';
  } catch (error) {
    if (errorName(error) !== 'EntityAlreadyExistsException' && errorName(error) !== 'EntityAlreadyExists') throw error;
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: roleName(), PolicyDocument: trust }));
    arn = await iamArn('role', roleName());
  }
  await iam.send(new PutRolePolicyCommand({ RoleName: roleName(), PolicyName: 'task-grant', PolicyDocument: grantPolicy() }));
  return arn;
}

/** AssumeRole, retried while IAM propagates the new role (seconds on AWS, none on moto). */
/** Assumes the role; the duration is asked again at each attempt, since the approval's clock runs on. */
async function assume(roleArn: string, durationSeconds: () => number): Promise<{ keys: Keys; expiration: Date }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: `jitc-${env('JITC_RUN_ID')}`.slice(0, 64), DurationSeconds: durationSeconds() }));
      const c = answer.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error('AssumeRole answered without credentials');
      return { keys: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken }, expiration: c.Expiration };
    } catch (error) {
      if (errorName(error) !== 'AccessDenied' || attempt >= 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

/** An IAM object's ARN in the broker's own account. */
async function iamArn(kind: 'user' | 'role', name: string): Promise<string> {
  const me = await sts.send(new GetCallerIdentityCommand({}));
  return `arn:${(me.Arn ?? 'arn:aws').split(':')[1]}:iam::${me.Account}:${kind}/${name}`;
}

/** Broken (durable): a long-term access key on an IAM user, which never expires. */
async function durableKey(): Promise<{ keys: Keys; userArn: string }> {
  let userArn: string;
  try {
    userArn = (await iam.send(new CreateUserCommand({ UserName: userName(), Tags: tags() }))).User?.Arn ?? (await iamArn('user', userName()));
  } catch (error) {
    if (errorName(error) !== 'EntityAlreadyExistsException' && errorName(error) !== 'EntityAlreadyExists') throw error;
    userArn = await iamArn('user', userName());
  }
  await iam.send(new PutUserPolicyCommand({ UserName: userName(), PolicyName: 'task-grant', PolicyDocument: grantPolicy() }));
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: userName() }))).AccessKey;
  if (!key?.AccessKeyId || !key.SecretAccessKey) throw new Error('CreateAccessKey answered without a key');
  return { keys: { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey }, userArn };
}

/**
 * Broken (same-credential): the first task's answer is kept, owner-only, until its end, and
 * handed to the second task. One file per scenario: the task id without its `#2`.
 */
function stateFile(): string {
  const dir = join(process.env.TMPDIR || tmpdir(), 'jitc-aws-role-broker');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return join(dir, env('JITC_TASK_ID').split('#')[0]!.replace(/[^A-Za-z0-9_.-]/g, '_'));
}

function readKept(): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(), 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function request(defect: Defect | undefined): Promise<Record<string, unknown>> {
  const approvedAt = new Date().toISOString();
  const kept = defect === 'same-credential' ? readKept() : undefined;
  if (kept) return { ...kept, requestId: `${String(kept.requestId)}-again`, approvedAt };

  const window = Number(env('JITC_WINDOW_SECONDS'));
  const common = { approver: process.env.JITC_APPROVER || null, approvedAt, scope: [`s3:GetObject ${env('JITC_TERM_AWS_OBJECT_ARN')}`] };
  if (defect === 'durable') {
    const { keys, userArn } = await durableKey();
    return { requestId: `aws-user-${keys.accessKeyId}`, ...common, issuedAt: new Date().toISOString(), expiresAt: null, credential: { type: 'aws-keys', ...keys }, made: [userArn] };
  }
  const longer = defect === 'grants-longer' ? window * 10 : defect === 'understated-expiry' ? window * 3 : undefined;
  const role = await roleWithGrant(longer ?? window);
  // The approval covers the window from the moment it was given: a session assumed later gets what
  // is left of it, less a second for the call to reach STS, which counts from its own receipt.
  const duration = (): number => {
    const left = Math.floor((Date.parse(approvedAt) + window * 1000 - Date.now()) / 1000) - 1;
    if (longer === undefined && left < 1) throw new Error('the approval window passed before a session could be issued');
    return longer ?? left;
  };
  const session = await assume(role, duration);
  const issuedAt = new Date();
  const stated = defect === 'understated-expiry' ? new Date(issuedAt.getTime() + window * 1000) : session.expiration;
  const answer = {
    requestId: `aws-role-${session.keys.accessKeyId}`,
    ...common,
    issuedAt: issuedAt.toISOString(),
    expiresAt: stated.toISOString(),
    credential: { type: 'aws-keys', ...session.keys },
    made: [defect === 'misnames-role' ? `${role}-misnamed` : role],
  };
  if (defect === 'same-credential') writeFileSync(stateFile(), JSON.stringify(answer), { mode: 0o600 });
  return answer;
}

async function end(defect: Defect | undefined): Promise<Record<string, unknown>> {
  if (defect === 'forgets-to-end') return { ended: false, detail: 'the broker keeps the role' };
  if (defect === 'says-revoked') return { ended: true, endedAt: new Date().toISOString(), detail: 'revoked' };
  if (defect === 'same-credential') rmSync(stateFile(), { force: true });
  // The permission goes first: from then on S3 refuses every session of the role.
  await unlessGone(() => iam.send(new DeleteRolePolicyCommand({ RoleName: roleName(), PolicyName: 'task-grant' })));
  if (defect === 'keeps-role' || defect === 'misnames-role') return { ended: true, endedAt: new Date().toISOString(), detail: `removed the grant from role ${roleName()}` };
  await unlessGone(() => iam.send(new DeleteRoleCommand({ RoleName: roleName() })));
  await unlessGone(async () => {
    await iam.send(new DeleteUserPolicyCommand({ UserName: userName(), PolicyName: 'task-grant' }));
    const keys = (await iam.send(new ListAccessKeysCommand({ UserName: userName() }))).AccessKeyMetadata ?? [];
    for (const key of keys) await iam.send(new DeleteAccessKeyCommand({ UserName: userName(), AccessKeyId: key.AccessKeyId }));
    await iam.send(new DeleteUserCommand({ UserName: userName() }));
  });
  return { ended: true, endedAt: new Date().toISOString(), detail: `removed the grant: role ${roleName()} and user ${userName()}, where they existed` };
}

function renew(defect: Defect | undefined): Record<string, unknown> {
  if (defect === 'renews-without-approval') {
    // Broken: says yes without an approval. (A real "renewal" would hand out a fresh session.)
    return { renewed: true, expiresAt: new Date(Date.now() + Number(env('JITC_RENEW_SECONDS')) * 1000).toISOString(), approver: null };
  }
  if (!process.env.JITC_APPROVER) return { renewed: false, detail: 'needs a new approval' };
  return { renewed: false, detail: 'an STS session cannot be extended: request a new grant' };
}

async function status(): Promise<Record<string, unknown>> {
  const holders = [
    { what: `role ${roleName()}`, read: () => iam.send(new GetRolePolicyCommand({ RoleName: roleName(), PolicyName: 'task-grant' })) },
    { what: `user ${userName()}`, read: () => iam.send(new GetUserPolicyCommand({ UserName: userName(), PolicyName: 'task-grant' })) },
  ];
  for (const holder of holders) {
    try {
      await holder.read();
      return { state: 'active', detail: `${holder.what} carries the grant` };
    } catch (error) {
      if (errorName(error) !== 'NoSuchEntityException' && errorName(error) !== 'NoSuchEntity') throw error;
    }
  }
  return { state: 'ended', detail: 'no role or user of the task carries the grant' };
}

async function main(): Promise<void> {
  const [hook, word] = process.argv.slice(2);
  const defect = DEFECTS.find((d) => d === word);
  if (word !== undefined && !defect) throw new Error(`unknown defect ${word}`);
  const answers: Record<string, () => Promise<Record<string, unknown>> | Record<string, unknown>> = {
    request: () => request(defect),
    end: () => end(defect),
    renew: () => renew(defect),
    status: () => status(),
  };
  const run = hook === undefined ? undefined : answers[hook];
  if (!run) throw new Error('usage: broker.ts request|end|renew|status [defect]');
  process.stdout.write(`${JSON.stringify(await run())}\n`);
}

main()
  .catch((error: unknown) => {
    // Only the error's name and message, on stderr: never a credential.
    process.stderr.write(`aws-role broker: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    iam.destroy();
    sts.destroy();
  });
