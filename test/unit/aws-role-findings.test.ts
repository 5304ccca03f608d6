/** An existing IAM role is judged by its MaxSessionDuration and its trust policy (adapters/aws/role-findings.ts). */
import { describe, expect, test } from 'vitest';
import { judgeSessionDuration, judgeTrust } from '../../adapters/aws/role-findings.ts';
import type { PolicyDocument } from '../../adapters/aws/policies.ts';

const ROLE = 'arn:aws:iam::111122223333:role/app-reader';
const BROKER = 'arn:aws:iam::111122223333:user/broker';
const trust = (principal: PolicyDocument['Statement'][number]['Principal'], extra: Partial<PolicyDocument['Statement'][number]> = {}): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole', ...extra }],
});

describe('role-within-window: the MaxSessionDuration of a role', () => {
  test('no longer than the window passes', () => {
    expect(judgeSessionDuration(ROLE, 3600, 3600).verdict).toBe('pass');
  });

  test('longer than the window fails: any AssumeRole may ask for that long', () => {
    const finding = judgeSessionDuration(ROLE, 43_200, 3600);
    expect(finding).toMatchObject({ check: 'role-within-window', verdict: 'fail' });
    expect(finding.detail).toContain('MaxSessionDuration 43200 s lets a session outlive the approval window of 3600 s');
  });

  test('not stated by IAM is inconclusive, never a pass', () => {
    expect(judgeSessionDuration(ROLE, undefined, 3600).verdict).toBe('inconclusive');
  });
});

describe('role-trust-narrow: who the trust policy lets assume the role', () => {
  test('only the broker, a named user: pass', () => {
    expect(judgeTrust(ROLE, trust({ AWS: BROKER }))).toMatchObject({ verdict: 'pass', detail: `role ${ROLE} trusts only named principals: ${BROKER}` });
  });

  test('named roles and role sessions: pass', () => {
    expect(judgeTrust(ROLE, trust({ AWS: ['arn:aws:iam::111122223333:role/broker', 'arn:aws:sts::111122223333:assumed-role/broker/s1'] })).verdict).toBe('pass');
  });

  test.each([
    ['"*"', '*'],
    ['{"AWS": "*"}', { AWS: '*' }],
    ['this account\'s root', { AWS: 'arn:aws:iam::111122223333:root' }],
    ['another account by its id', { AWS: '444455556666' }],
    ['a service', { Service: 'ec2.amazonaws.com' }],
    ['a federated provider', { Federated: 'arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com' }],
  ] as const)('trusting %s fails', (_name, principal) => {
    expect(judgeTrust(ROLE, trust(principal as PolicyDocument['Statement'][number]['Principal'])).verdict).toBe('fail');
  });

  test('a wide principal beside the broker still fails, and says both', () => {
    const finding = judgeTrust(ROLE, trust({ AWS: [BROKER, 'arn:aws:iam::444455556666:root'] }));
    expect(finding.verdict).toBe('fail');
    expect(finding.detail).toBe(`role ${ROLE} trusts arn:aws:iam::444455556666:root (the whole account 444455556666: every identity its own policies allow), beside ${BROKER}`);
  });

  test('conditions are named and not evaluated: "*" with a condition still fails', () => {
    const finding = judgeTrust(ROLE, trust('*', { Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-1' } } }));
    expect(finding.verdict).toBe('fail');
    expect(finding.detail).toContain('conditions StringEquals aws:PrincipalOrgID (not evaluated: check they narrow it)');
  });

  test('a Deny statement trusts nobody', () => {
    expect(judgeTrust(ROLE, { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 'sts:AssumeRole' }, { Effect: 'Allow', Principal: { AWS: BROKER }, Action: 'sts:AssumeRole' }] }).verdict).toBe('pass');
  });

  test('NotPrincipal in an Allow (everyone but a list) fails', () => {
    const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', NotPrincipal: { AWS: BROKER }, Action: 'sts:AssumeRole' }] } as unknown as PolicyDocument;
    expect(judgeTrust(ROLE, doc).verdict).toBe('fail');
  });
});
