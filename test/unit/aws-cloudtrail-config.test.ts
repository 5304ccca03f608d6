/**
 * `aws.cloudTrail` in the config file names the trail's bucket: a mistake in it is one line naming
 * the field, raised before any request leaves the machine.
 */
import { describe, expect, test } from 'vitest';
import { awsTargets } from '../../adapters/aws/targets.ts';
import { InputError } from '../../scenarios/input.ts';

function connect(cloudTrail: unknown) {
  return awsTargets.external!.connect({ runId: 'r1', workDir: '/tmp', projectRoot: '/tmp', config: { region: 'eu-west-1', cloudTrail }, log: () => undefined });
}

describe('aws.cloudTrail', () => {
  test.each([
    ['no bucket', { prefix: 'audit' }, /^config aws: cloudTrail\.bucket: /],
    ['a bucket that is no S3 name', { bucket: 'My_Bucket' }, /^config aws: cloudTrail\.bucket: an S3 bucket name$/],
    ['an unknown key', { bucket: 'trail-logs', region: 'eu-west-1' }, /^config aws: cloudTrail\.region: unknown key "region"/],
    ['no delivery time', { bucket: 'trail-logs', deliveryMinutes: 0 }, /^config aws: cloudTrail\.deliveryMinutes: /],
  ])('%s is refused in one line', async (_name, cloudTrail, message) => {
    const error = await connect(cloudTrail).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message.split('\n')).toHaveLength(1);
  });
});
