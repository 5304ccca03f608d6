/**
 * The AWS clients a scenario works with. The broker's clients sign with the target's admin
 * credential (moto's bootstrapped admin, or the SDK default credential chain on a real account);
 * every task credential gets clients of its own, made for one probe: one attempt, short timeouts,
 * so a slow or refused answer is an `unknown` probe rather than a retried one, and agents without
 * keep-alive, so every probe opens a new connection and a balancer in front of the target makes a
 * fresh decision for it (a pooled socket would keep asking the same node).
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { MiddlewareStack } from '@smithy/types';
import { CallGate } from '../call-urgency.ts';
import type { TargetConnection } from '../contract.ts';

/** A credential as AWS signs with it; the typed `aws-keys` credential (contract.ts) is one of these. */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface ServiceClients {
  iam: IAMClient;
  sts: STSClient;
  s3: S3Client;
}

export interface AwsClient extends ServiceClients {
  region: string;
  /** Custom endpoint (moto, LocalStack); undefined on a real account. */
  endpoint: string | undefined;
  account: string;
  partition: string;
  /** The broker's principal as trust policies name it (an IAM user or role ARN). */
  brokerArn: string;
  /**
   * Clients signing with a task credential, for one probe: a new connection per request, sent to
   * `node` (one of the scenario's `reuse.nodes`) instead of the target's own endpoint when given.
   * Destroy them after use.
   */
  as(credentials: Credentials, node?: string): ServiceClients & { destroy(): void };
  /** Clients signing as the broker, made like `as` for one probe (a lookup the broker makes: is a key still listed?). */
  asBroker(node?: string): ServiceClients & { destroy(): void };
  /** The broker's own secret parts (secret access key, session token), for redaction. */
  brokerSecrets(): Promise<string[]>;
}

interface ClientOptions {
  region: string;
  endpoint: string | undefined;
  /** A credential, the admin clients' resolved provider, or undefined for the SDK default chain. */
  credentials: Credentials | STSClient['config']['credentials'] | undefined;
  maxAttempts: number;
  requestTimeout: number;
  /** No keep-alive: every request on a connection of its own (probes). */
  freshConnections?: boolean;
  /** The connection's gate, which every call to the target passes through, most urgent first. */
  gate?: CallGate;
}

/**
 * Calls to one AWS target under way at once. moto answers one request at a time, so beyond a few
 * more only queue inside it, first come; here they wait by urgency instead (call-urgency.ts).
 * Measured with `npm run bench:overlap:aws`; a real account's API limits are lower still.
 */
export const AWS_CALLS_AT_ONCE = 16;

function clients(o: ClientOptions): ServiceClients {
  const agents = o.freshConnections ? { httpAgent: new HttpAgent({ keepAlive: false }), httpsAgent: new HttpsAgent({ keepAlive: false }) } : {};
  const common = {
    region: o.region,
    maxAttempts: o.maxAttempts,
    requestHandler: { requestTimeout: o.requestTimeout, connectionTimeout: Math.min(o.requestTimeout, 3000), ...agents },
    ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
    // Without explicit credentials the SDK default chain applies (environment, profile, SSO, IMDS...).
    ...(o.credentials !== undefined ? { credentials: o.credentials } : {}),
  };
  const made: ServiceClients = {
    iam: new IAMClient(common),
    sts: new STSClient(common),
    s3: new S3Client({
      ...common,
      // Local endpoints answer on one host: path-style addressing. Checksums only where S3 demands them.
      forcePathStyle: o.endpoint !== undefined,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
  };
  if (o.gate) {
    passThrough(made.iam.middlewareStack, o.gate);
    passThrough(made.sts.middlewareStack, o.gate);
    passThrough(made.s3.middlewareStack, o.gate);
  }
  return made;
}

/** Every call of a client waits its turn at the gate: before signing, so it signs when it goes, and through its retries. */
function passThrough<I extends object, O extends object>(stack: MiddlewareStack<I, O>, gate: CallGate): void {
  stack.add((next) => (args) => gate.run(() => next(args)), { step: 'build', name: 'jitcCallGate' });
}

export function adminCredentials(connection: TargetConnection): Credentials | undefined {
  const { accessKeyId, secretAccessKey } = connection.settings;
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;
}

/** Build clients from a connection. Provisioning states account, partition and broker ARN up front. */
export function connectAws(connection: TargetConnection): AwsClient {
  const s = connection.settings;
  const region = s.region;
  if (!region || !s.account || !s.brokerArn) throw new Error('aws connection lacks region, account or broker ARN');
  const endpoint = s.endpoint || undefined;
  const gate = new CallGate(AWS_CALLS_AT_ONCE);
  const admin = clients({ region, endpoint, credentials: adminCredentials(connection), maxAttempts: 3, requestTimeout: 10_000, gate });
  return {
    ...admin,
    region,
    endpoint,
    account: s.account,
    partition: s.partition ?? 'aws',
    brokerArn: s.brokerArn,
    as(credentials, node) {
      // Only the signing parts: a typed credential (`aws-keys`) carries a `type` the SDK has no use for.
      const { accessKeyId, secretAccessKey, sessionToken } = credentials;
      const signing: Credentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
      const c = clients({ region, endpoint: node ?? endpoint, credentials: signing, maxAttempts: 1, requestTimeout: 5000, freshConnections: true, gate });
      return { ...c, destroy: () => destroyAll(c) };
    },
    asBroker(node) {
      // The admin clients' own credential provider: resolved once, whatever the source.
      const c = clients({ region, endpoint: node ?? endpoint, credentials: admin.sts.config.credentials, maxAttempts: 1, requestTimeout: 5000, freshConnections: true, gate });
      return { ...c, destroy: () => destroyAll(c) };
    },
    async brokerSecrets() {
      // The credential the admin clients sign with: given (local, container) or resolved by the SDK default chain (external).
      const resolved = await admin.sts.config.credentials();
      return [resolved.secretAccessKey, resolved.sessionToken].filter((v): v is string => typeof v === 'string' && v !== '');
    },
  };
}

export function destroyAll(c: ServiceClients): void {
  c.iam.destroy();
  c.sts.destroy();
  c.s3.destroy();
}

export function disconnectAws(client: AwsClient): void {
  destroyAll(client);
}

/** Who the admin/broker credential is, as the target says. */
export async function callerIdentity(sts: STSClient): Promise<{ account: string; arn: string }> {
  const me = await sts.send(new GetCallerIdentityCommand({}));
  if (!me.Account || !me.Arn) throw new Error('GetCallerIdentity answered without account or ARN');
  return { account: me.Account, arn: me.Arn };
}

export function partitionOf(arn: string): string {
  return arn.split(':')[1] ?? 'aws';
}

/** Clients for one-off calls during provisioning (before a connection exists). */
export function provisioningClients(region: string, endpoint: string | undefined, credentials: Credentials | undefined): ServiceClients {
  return clients({ region, endpoint, credentials, maxAttempts: 3, requestTimeout: 10_000 });
}
