/**
 * A real account is reached with the SDK default credential chain and AWS_REGION. Missing or invalid
 * configuration is one clear InputError, raised before any request leaves the machine.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { awsTargets } from '../../adapters/aws/targets.ts';
import { InputError } from '../../scenarios/input.ts';

const saved: Record<string, string | undefined> = {};
const REGION_VARS = ['AWS_REGION', 'AWS_DEFAULT_REGION'];

beforeEach(() => {
  for (const name of REGION_VARS) {
    saved[name] = process.env[name];
    delete process.env[name];
  }
});

afterEach(() => {
  for (const name of REGION_VARS) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

function connect(config: Record<string, unknown>) {
  const external = awsTargets.external;
  if (!external) throw new Error('no external mode');
  return external.connect({ runId: 'r1', workDir: '/tmp', projectRoot: '/tmp', config, log: () => undefined });
}

describe('external AWS configuration', () => {
  test('without AWS_REGION the error says what to set', async () => {
    const error = await connect({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe('external aws target: set AWS_REGION (or aws.region in the config file)');
  });

  test('a malformed region in the config file is named', async () => {
    const error = await connect({ region: 'moon-1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(/^config aws: region: an AWS region such as eu-west-1$/);
  });

  test('an unknown key in the config file is refused', async () => {
    const error = await connect({ regoin: 'eu-west-1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message.split('\n')).toHaveLength(1);
  });
});
