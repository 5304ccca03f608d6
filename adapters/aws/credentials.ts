/**
 * AWS credentials as the halves pass them: the typed `aws-keys` credential of the contract, born
 * through `bornCredential` so its secret access key and session token join the redaction list the
 * moment AWS hands them out — and the broker's own secret parts, which no credential carries.
 */
import { bornCredential, type Credential, type CredentialOf } from '../contract.ts';
import type { SecretRegistry } from '../../scenarios/secrets.ts';
import type { Credentials } from './client.ts';
import type { AwsContext } from './context.ts';

export type AwsKeys = CredentialOf<'aws-keys'>;

/** An access key or session as AWS answered it, as a credential; its secret parts are registered now. */
export function bornKeys(secrets: SecretRegistry, keys: Credentials): AwsKeys {
  return bornCredential(secrets, {
    type: 'aws-keys',
    accessKeyId: keys.accessKeyId,
    secretAccessKey: keys.secretAccessKey,
    ...(keys.sessionToken ? { sessionToken: keys.sessionToken } : {}),
  });
}

/** The credential as AWS keys, or undefined when it is of another type. */
export function keysOf(credential: Credential | undefined): AwsKeys | undefined {
  return credential?.type === 'aws-keys' ? credential : undefined;
}

/**
 * The broker's own secret access key and session token join the scenario's redaction list before
 * anything is written: on an external target they come from the SDK default chain, never from the
 * connection, so nothing else would know them.
 */
export async function registerBrokerSecrets(ctx: AwsContext): Promise<void> {
  for (const value of await ctx.client.brokerSecrets()) ctx.secrets.add(value);
}
