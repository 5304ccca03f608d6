/**
 * The AWS adapter: one point of use (an S3 object read by the task identity) and four native
 * grant sources for it — STS AssumeRole sessions, temporary IAM access keys, policy bindings and
 * emergency sessions of a break-glass role.
 * Each grant source hands over AWS keys (`aws-keys`) and grants by the object's ARN (and, for a
 * binding, the requester's user name); the pairs keep the built-in scenario files' `mechanism:`
 * names.
 */
import type { Adapter } from '../contract.ts';
import { cleanupAws } from './cleanup.ts';
import { awsLeftovers } from './leftovers.ts';
import { lookUpAws } from './look-up.ts';
import { type AwsClient, connectAws, disconnectAws } from './client.ts';
import { accessKeySource } from './grants/access-key.ts';
import { assumeRoleSource } from './grants/assume-role.ts';
import { breakGlassSource } from './grants/break-glass.ts';
import { policyBindingSource } from './grants/policy-binding.ts';
import { s3ObjectPoint } from './points/s3-object.ts';
import { awsTargets } from './targets.ts';

const awsAdapter: Adapter<AwsClient> = {
  name: 'aws',
  title: 'AWS IAM / STS',
  products: ['AWS IAM', 'AWS STS', 'moto', 'LocalStack'],
  targets: awsTargets,
  connect: async (connection) => connectAws(connection),
  disconnect: async (client) => disconnectAws(client),
  grantSources: {
    'assume-role': assumeRoleSource,
    'access-key': accessKeySource,
    'policy-binding': policyBindingSource,
    'break-glass': breakGlassSource,
  },
  pointsOfUse: {
    's3-object': s3ObjectPoint,
  },
  pairs: {
    'assume-role': { source: 'assume-role', pointOfUse: 's3-object' },
    'access-key': { source: 'access-key', pointOfUse: 's3-object' },
    'policy-binding': { source: 'policy-binding', pointOfUse: 's3-object' },
    'break-glass': { source: 'break-glass', pointOfUse: 's3-object' },
  },
  cleanup: cleanupAws,
  leftovers: awsLeftovers,
  discover: async (client, policy) => (await import('./discover.ts')).discoverAws(client, policy),
  lookUp: lookUpAws,
  longWait: { scenario: 'sts-assume-role-expiry', ttlParam: 'durationSeconds' },
  // An external account's keys come from the default chain, never from here: a hook names them in passEnv.
  hookEnvironment: ({ settings: s }) => ({
    AWS_REGION: s.region ?? '',
    ...(s.endpoint ? { AWS_ENDPOINT_URL: s.endpoint } : {}),
    ...(s.accessKeyId && s.secretAccessKey ? { AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey } : {}),
  }),
};

export default awsAdapter;
