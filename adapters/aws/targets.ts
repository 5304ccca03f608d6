/**
 * Reaching AWS: `local` starts a real moto_server with IAM enforcement on (moto-server.ts);
 * `container` runs LocalStack through @testcontainers/localstack; `external` is a real account
 * through the SDK default credential chain and AWS_REGION, as every AWS tool reads them.
 */
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { z } from 'zod';
import { parseSection } from '../config-section.ts';
import { type ProvisionOptions, type StartedTarget, type TargetConnection, type TargetProvisioning } from '../contract.ts';
import { callerIdentity, destroyAll, partitionOf, provisioningClients, type ServiceClients } from './client.ts';
import { MOTO_PIN, startMoto } from './moto-server.ts';
import { describeAwsError, failureText } from './probes.ts';
import { InputError } from '../../scenarios/input.ts';

/** LocalStack pinned; it enforces IAM only in its Pro edition (ENFORCE_IAM=1 with an auth token). */
export const LOCALSTACK_IMAGE = 'localstack/localstack:4.4';

const externalConfig = z
  .strictObject({
    /** Overrides AWS_REGION / AWS_DEFAULT_REGION. */
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-west-1').optional(),
    /** An AWS-compatible endpoint instead of the real one (a shared LocalStack, say). */
    endpoint: z.url().optional(),
    /**
     * The account's CloudTrail trail, read for the `audit-trail` check (cloudtrail.ts): the S3 bucket
     * it delivers log files to, read with the admin credential (s3:ListBucket, s3:GetObject). jitc
     * never creates or changes a trail.
     */
    cloudTrail: z
      .strictObject({
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
        /** The trail's S3 key prefix, when it has one: its files are under <prefix>/AWSLogs/<account>/CloudTrail/. */
        prefix: z
          .string()
          .min(1)
          .transform((p) => p.replace(/^\/+|\/+$/g, ''))
          .optional(),
        /** How long after the grant's end its records may take to arrive in the bucket: AWS says typically 5, and up to 15. */
        deliveryMinutes: z.number().positive().max(60).default(15),
      })
      .optional(),
  })
  .default({});

/** The connection settings naming the trail: plain strings, as every setting is. */
export const CLOUDTRAIL_SETTINGS = { bucket: 'cloudTrailBucket', prefix: 'cloudTrailPrefix', deliveryMinutes: 'cloudTrailDeliveryMinutes' } as const;

function trailSettings(trail: z.infer<typeof externalConfig>['cloudTrail']): Record<string, string> {
  if (!trail) return {};
  return {
    [CLOUDTRAIL_SETTINGS.bucket]: trail.bucket,
    ...(trail.prefix ? { [CLOUDTRAIL_SETTINGS.prefix]: trail.prefix } : {}),
    [CLOUDTRAIL_SETTINGS.deliveryMinutes]: String(trail.deliveryMinutes),
  };
}

/**
 * Trust policies name the broker. A session of a role (SSO, CI) is named by its role, found on the
 * target so its path is right: trusting one session name would break at the next login.
 */
async function brokerPrincipal(c: ServiceClients, arn: string): Promise<string> {
  const session = /^arn:([^:]+):sts::(\d+):assumed-role\/([^/]+)\//.exec(arn);
  if (!session) return arn;
  const role = await c.iam.send(new GetRoleCommand({ RoleName: session[3] }));
  return role.Role?.Arn ?? `arn:${session[1]}:iam::${session[2]}:role/${session[3]}`;
}

export const awsTargets: TargetProvisioning = {
  configSection: externalConfig,
  local: {
    requirements: { pip: [MOTO_PIN], commands: ['moto_server'] },
    start: startMoto,
  },

  container: {
    async start(options: ProvisionOptions): Promise<StartedTarget> {
      const { LocalstackContainer } = await import('@testcontainers/localstack');
      const token = process.env.LOCALSTACK_AUTH_TOKEN;
      const container = await new LocalstackContainer(LOCALSTACK_IMAGE)
        .withEnvironment({ ENFORCE_IAM: '1', ...(token ? { LOCALSTACK_AUTH_TOKEN: token } : {}) })
        .start();
      const endpoint = container.getConnectionUri();
      const region = 'us-east-1';
      // LocalStack's root credential; not a secret, and registered as one all the same.
      const admin = { accessKeyId: 'test', secretAccessKey: 'test' };
      const c = provisioningClients(region, endpoint, admin);
      const me = await callerIdentity(c.sts).finally(() => destroyAll(c));
      options.log(`aws: LocalStack container on ${endpoint}${token ? '' : ' (no LOCALSTACK_AUTH_TOKEN: IAM is not enforced)'}`);
      return {
        connection: {
          adapter: 'aws',
          mode: 'container',
          address: endpoint,
          settings: { endpoint, region, ...admin, account: me.account, partition: partitionOf(me.arn), brokerArn: me.arn },
          secretSettings: ['secretAccessKey'],
          facts: {
            product: 'LocalStack',
            version: LOCALSTACK_IMAGE.split(':')[1] ?? 'unknown',
            mode: 'container',
            enforcement: token ? 'ENFORCE_IAM=1 (LocalStack Pro)' : 'none: LocalStack community does not enforce IAM',
          },
        },
        stop: async () => {
          await container.stop();
        },
      };
    },
  },

  external: {
    /**
     * The region names the account's endpoint, and jitc asks for it. Credentials alone do not
     * count: the SDK chain finds a profile or an instance role on many machines that never meant
     * jitc to touch an account. A variable set empty is unset, as in a shell.
     */
    configured: (options) => Object.keys(options.config).length > 0 || Boolean(process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION),
    howToConfigure: 'set AWS_REGION or AWS_DEFAULT_REGION, or aws.region in the config file',
    async connect(options: ProvisionOptions): Promise<TargetConnection> {
      const cfg = parseSection(externalConfig, 'aws', options);
      const region = cfg.region ?? (process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION);
      if (!region) throw new InputError('external aws target: set AWS_REGION (or aws.region in the config file)');
      const endpoint = cfg.endpoint;
      // No credentials given: the SDK default chain (environment, shared profile/AWS_PROFILE, SSO, web identity, IMDS).
      const c = provisioningClients(region, endpoint, undefined);
      try {
        let me: { account: string; arn: string };
        try {
          me = await callerIdentity(c.sts);
        } catch (error) {
          throw new InputError(`external aws target: the AWS SDK default credential chain gives no usable credential (${failureText(describeAwsError(error))})`);
        }
        let broker: string;
        try {
          broker = await brokerPrincipal(c, me.arn);
        } catch (error) {
          throw new InputError(`external aws target: cannot read the broker's own role for ${me.arn} (${failureText(describeAwsError(error))}); it needs iam:GetRole on it`);
        }
        return {
          adapter: 'aws',
          mode: 'external',
          address: endpoint ?? `aws account ${me.account} (${region})`,
          settings: { region, ...(endpoint ? { endpoint } : {}), account: me.account, partition: partitionOf(me.arn), brokerArn: broker, ...trailSettings(cfg.cloudTrail) },
          secretSettings: [],
          facts: {
            product: 'AWS IAM/STS',
            mode: 'external',
            account: me.account,
            region,
            broker: broker,
            ...(cfg.cloudTrail ? { cloudTrail: `s3://${cfg.cloudTrail.bucket}${cfg.cloudTrail.prefix ? `/${cfg.cloudTrail.prefix}` : ''}` } : {}),
          },
        };
      } finally {
        destroyAll(c);
      }
    },
  },
};
