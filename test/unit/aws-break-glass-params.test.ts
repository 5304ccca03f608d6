/**
 * What the AWS break-glass scenario accepts, checked at load: an account's own path is never
 * changed, so a broken setup that would write onto it is refused, and an end the path cannot
 * give (one session revoked alone) is refused too.
 */
import { describe, expect, test } from 'vitest';
import { toScenario } from '../../scenarios/load.ts';

const own = { roleArn: 'arn:aws:iam::123456789012:role/emergency-admin', identityKeysEnv: { accessKeyId: 'BG_KEY_ID', secretAccessKey: 'BG_SECRET' } };

function file(params: Record<string, unknown>, end: Record<string, unknown> = { mode: 'expire' }): Record<string, unknown> {
  return {
    id: 'bg',
    title: 'break-glass',
    proves: 'The break-glass role is kept apart from routine JIT.',
    adapter: 'aws',
    breakGlass: true,
    severity: 'critical',
    grant: { source: 'break-glass', params },
    use: { point: 's3-object', params: { existing: { objectArn: 'arn:aws:s3:::incident-bucket/runbook.md' } } },
    task: { windowSeconds: 3600, needs: ['s3:GetObject on the runbook'] },
    end,
    reuse: { deadlineSeconds: 30 },
  };
}

describe('the AWS break-glass scenario at load', () => {
  test("an account's own role and identity load, and are judged by the role's own settings", async () => {
    const scenario = await toScenario(file({ existing: own, durationSeconds: 900 }), 'bg.yaml');
    expect(scenario.grant).toMatchObject({ adapter: 'aws', name: 'break-glass', params: { existing: own, durationSeconds: 900, routineMayUseBreakGlass: false } });
  });

  test("a broken routine setup is refused on an account's own path, which is never changed", async () => {
    await expect(toScenario(file({ existing: own, routineMayUseBreakGlass: true }), 'bg.yaml')).rejects.toThrow(/routineMayUseBreakGlass: not with existing/);
  });

  test('a variable name is asked for, never a key', async () => {
    await expect(toScenario(file({ existing: { ...own, identityKeysEnv: { accessKeyId: 'AKIA/EXAMPLE+KEY', secretAccessKey: 'BG_SECRET' } } }), 'bg.yaml')).rejects.toThrow(/environment variable/);
  });

  test('a revoke at task end is refused: STS cannot end one session of a role alone', async () => {
    await expect(toScenario(file({ existing: own }, { mode: 'revoke' }), 'bg.yaml')).rejects.toThrow(/revoke/);
  });
});
