/** The AWS adapter: native JIT through STS AssumeRole sessions, temporary IAM access keys and policy bindings. */
import type { Adapter } from '../contract.ts';
import { cleanupAws } from './cleanup.ts';
import { type AwsClient, connectAws, disconnectAws } from './client.ts';
import { accessKeyMechanism } from './mechanisms/access-key.ts';
import { assumeRoleMechanism } from './mechanisms/assume-role.ts';
import { policyBindingMechanism } from './mechanisms/policy-binding.ts';
import { awsTargets } from './targets.ts';

const awsAdapter: Adapter<AwsClient> = {
  name: 'aws',
  title: 'AWS IAM / STS',
  products: ['AWS IAM', 'AWS STS', 'moto', 'LocalStack'],
  targets: awsTargets,
  connect: async (connection) => connectAws(connection),
  disconnect: async (client) => disconnectAws(client),
  mechanisms: {
    'assume-role': assumeRoleMechanism,
    'access-key': accessKeyMechanism,
    'policy-binding': policyBindingMechanism,
  },
  cleanup: cleanupAws,
};

export default awsAdapter;
