/**
 * STS sessions of a role as the grant sources handing them out obtain and judge them
 * (grants/assume-role.ts, grants/break-glass.ts): AssumeRole with a given identity, the one refusal
 * a reader needs explained (AWS's 900-second floor), and the session probed as a credential.
 */
import { AssumeRoleCommand, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { seconds } from '../../scenarios/durations.ts';
import type { ProbeResult, ReuseHandle } from '../contract.ts';
import type { AwsClient } from './client.ts';
import type { AwsContext } from './context.ts';
import { type AwsKeys, bornKeys } from './credentials.ts';
import { sessionName } from './names.ts';
import { describeAwsError, probe } from './probes.ts';

/**
 * DurationSeconds asked of AssumeRole. AWS accepts 900 s up to the role's maximum session
 * duration; moto accepts any value, which lets the embedded target test expiry in seconds.
 */
export const durationSeconds = seconds.refine((s) => Number.isInteger(s) && s >= 1, 'whole seconds, at least 1');

export interface Session {
  credentials: AwsKeys;
  arn: string;
  /** Expiration as STS states it, ms since the epoch (the target's own clock). */
  expiration: number;
}

/** AssumeRole with the identity behind `sts`; the session's secret parts are registered the moment they arrive. */
export async function assumeRole(ctx: AwsContext, sts: AwsClient['sts'], roleArn: string, purpose: string, durationSeconds: number): Promise<Session> {
  const answer = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName(ctx, purpose), DurationSeconds: durationSeconds }));
  const c = answer.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error('AssumeRole answered without credentials');
  return {
    credentials: bornKeys(ctx.secrets, { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken }),
    arn: answer.AssumedRoleUser?.Arn ?? '',
    expiration: c.Expiration.getTime(),
  };
}

/**
 * An AssumeRole failure, with AWS's 900-second floor spelled out: the embedded target accepts
 * seconds, a real account refuses them, and the scenario file is what must change.
 */
export function explainDurationFloor(error: unknown, durationSeconds: number): unknown {
  const failure = describeAwsError(error);
  if (failure.code === 'ValidationError' && /durationSeconds/i.test(failure.message)) {
    return new Error(
      `the target refused DurationSeconds ${durationSeconds} (${failure.message}); AWS accepts 900 s at least: run a copy of this scenario with params.durationSeconds and task.windowSeconds of 900 or more`,
    );
  }
  return error;
}

/**
 * An expired session is refused as a credential, not merely denied by policy: sts:GetCallerIdentity
 * needs no permission and no policy can deny it, so only the credential's own death stops it.
 */
export async function callerProbe(ctx: AwsContext, credentials: AwsKeys, node?: string): Promise<ProbeResult> {
  const c = ctx.client.as(credentials, node);
  try {
    return await probe(async () => `GetCallerIdentity: ${(await c.sts.send(new GetCallerIdentityCommand({}))).Arn ?? ''}`);
  } finally {
    c.destroy();
  }
}

/** The session as a credential, probed after the end of an expire-mode grant. */
export function sessionCredentialHandle(ctx: AwsContext, credentials: AwsKeys): ReuseHandle {
  return { name: 'session credential (sts:GetCallerIdentity)', check: 'credential-invalidated', probe: (node) => callerProbe(ctx, credentials, node) };
}
