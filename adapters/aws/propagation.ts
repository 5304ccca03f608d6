/**
 * Waiting out IAM's eventual consistency: a new key, principal or grant works on AWS only seconds
 * after the call that made it returned. Every wait is bounded by params.propagationSeconds and
 * recorded as evidence when it was needed, so a slow target shows in the report, never hides in it.
 */
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import pRetry, { AbortError } from 'p-retry';
import type { ProbeResult } from '../contract.ts';
import type { Credentials } from './client.ts';
import type { AwsContext } from './context.ts';
import { describeAwsError, failureText } from './probes.ts';

/** A new access key works on AWS only after it has propagated; wait until it authenticates. */
export async function awaitAuthenticates(ctx: AwsContext, credentials: Credentials, what: string): Promise<void> {
  const started = Date.now();
  await eventually(ctx, what, ['InvalidClientTokenId'], async () => {
    const c = ctx.client.as(credentials);
    try {
      await c.sts.send(new GetCallerIdentityCommand({}));
    } finally {
      c.destroy();
    }
  });
  const ms = Date.now() - started;
  if (ms > 500) ctx.evidence.record(`${what} authenticates after ${ms} ms (IAM propagation)`);
}

/**
 * Run an admin call, retrying while the target answers one of `transient` (IAM's eventual
 * consistency: a principal or key not yet known everywhere), up to params.propagationSeconds.
 */
export async function eventually<T>(ctx: AwsContext, what: string, transient: string[], action: () => Promise<T>): Promise<T> {
  return pRetry(
    async () => {
      try {
        return await action();
      } catch (error) {
        if (transient.includes(describeAwsError(error).code)) throw error;
        throw new AbortError(error instanceof Error ? error : new Error(String(error)));
      }
    },
    {
      retries: 1000,
      minTimeout: 200,
      maxTimeout: 2000,
      factor: 1.5,
      randomize: false,
      maxRetryTime: ctx.params.propagationSeconds * 1000,
      signal: ctx.signal,
      onFailedAttempt: ({ error, attemptNumber }) => {
        if (attemptNumber === 1) ctx.evidence.record(`${what}: not yet in effect (${failureText(describeAwsError(error))}), waiting for IAM to propagate`);
      },
    },
  );
}

/**
 * Use a fresh grant: probe until the target allows it (a new grant takes seconds to propagate on
 * AWS) or params.propagationSeconds pass. The propagation delay is recorded as evidence.
 */
export async function untilAllowed(ctx: AwsContext, what: string, attempt: () => Promise<ProbeResult>): Promise<ProbeResult> {
  const started = Date.now();
  const deadline = started + ctx.params.propagationSeconds * 1000;
  let tries = 0;
  for (;;) {
    tries++;
    const result = await attempt();
    if (result.outcome === 'allowed' || Date.now() >= deadline || ctx.signal.aborted) {
      if (tries > 1) ctx.evidence.record(`${what}: ${result.outcome} after ${tries} attempts, ${Date.now() - started} ms after the grant (IAM propagation)`);
      return result;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(250 * tries, 1500)));
  }
}
