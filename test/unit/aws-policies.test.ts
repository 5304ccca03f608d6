/**
 * Policy documents the AWS adapter writes and reads back, and the names it gives things: the scope
 * a role grants (privilege width), the end a time-boxed grant states, what counts as an
 * entitlement, and names that keep concurrent scenarios (and their twins) apart.
 */
import { describe, expect, test } from 'vitest';
import { bucketName, iamName, ownedBy, sessionName, stem } from '../../adapters/aws/names.ts';
import { runPrefix } from '../../adapters/contract.ts';
import {
  grantDocument,
  grantedScope,
  grantsNothing,
  parseDocument,
  revokeOlderSessionsDocument,
  timeBox,
  trustDocument,
  unboundedEntries,
} from '../../adapters/aws/policies.ts';

const task = { partition: 'aws', bucket: 'jitc-r1-x', key: 'task/object.txt' };

describe('grant documents', () => {
  test('object actions apply to the object, bucket actions to the bucket', () => {
    const doc = grantDocument(['s3:GetObject', 's3:ListBucket'], task);
    expect(grantedScope([doc])).toEqual(['s3:GetObject arn:aws:s3:::jitc-r1-x/task/object.txt', 's3:ListBucket arn:aws:s3:::jitc-r1-x']);
  });

  test('a time-boxed grant states its end, rounded down to the second, on every Allow', () => {
    const until = Date.parse('2030-01-01T00:00:09.900Z');
    const doc = grantDocument(['s3:GetObject', 's3:ListBucket'], task, until);
    expect(doc.Statement.map((s) => s.Condition)).toEqual([
      { DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:09Z' } },
      { DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:09Z' } },
    ]);
    expect(timeBox([doc])).toBe(Date.parse('2030-01-01T00:00:09Z'));
  });

  test('one open-ended Allow makes the whole grant open-ended', () => {
    expect(timeBox([grantDocument(['s3:GetObject'], task, Date.now()), grantDocument(['s3:PutObject'], task)])).toBeNull();
  });
});

describe('reading scope back', () => {
  test('each allowed action and resource pair counts once; denies count nothing', () => {
    const doc = parseDocument(
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: ['arn:aws:s3:::b/k', 'arn:aws:s3:::b/j'] },
          { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/k' },
          { Effect: 'Deny', Action: '*', Resource: '*' },
        ],
      }),
    );
    expect(grantedScope([doc])).toHaveLength(4);
  });

  test('wildcards and NotAction are flagged: their count understates the width', () => {
    const doc = parseDocument(JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::b/*' }, { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }] }));
    const scope = grantedScope([doc]);
    expect(unboundedEntries(scope)).toEqual(scope);
    expect(unboundedEntries(['s3:GetObject arn:aws:s3:::b/k'])).toEqual([]);
  });

  test('IAM returns documents URL-encoded; they are read the same', () => {
    const doc = grantDocument(['s3:GetObject'], task);
    expect(parseDocument(encodeURIComponent(JSON.stringify(doc)))).toEqual(parseDocument(JSON.stringify(doc)));
  });

  test('a single Statement object (not a list) is read', () => {
    expect(grantedScope([parseDocument('{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"r"}}')])).toEqual(['s3:GetObject r']);
  });
});

describe('what is an entitlement', () => {
  test('the revoke-older-sessions policy only denies: it grants nothing and is no residue', () => {
    const revoke = revokeOlderSessionsDocument(Date.parse('2030-01-01T00:00:00.200Z'));
    expect(grantsNothing(revoke)).toBe(true);
    // Rounded up: a session issued within the same second is covered.
    expect(revoke.Statement[0]?.Condition).toEqual({ DateLessThan: { 'aws:TokenIssueTime': '2030-01-01T00:00:01Z' } });
    expect(grantsNothing(grantDocument(['s3:GetObject'], task))).toBe(false);
  });

  test('a trust policy names one principal plainly, several as a list', () => {
    expect(trustDocument(['arn:aws:iam::1:user/a']).Statement[0]?.Principal).toEqual({ AWS: 'arn:aws:iam::1:user/a' });
    expect(trustDocument(['a', 'b']).Statement[0]?.Principal).toEqual({ AWS: ['a', 'b'] });
  });
});

describe('names', () => {
  const source = (scenarioId: string, runId = 'r1') => ({ runId, scenarioId, prefix: `jitc-${runId}-${scenarioId}` });

  test('a scenario never owns the objects of its twin, whose id it starts', () => {
    const scenario = source('temporary-policy-binding');
    const twin = source('temporary-policy-binding-twin');
    expect(ownedBy(scenario, iamName(scenario, 'identity'))).toBe(true);
    expect(ownedBy(scenario, iamName(twin, 'identity'))).toBe(false);
    expect(ownedBy(twin, iamName(scenario, 'identity'))).toBe(false);
  });

  test('names too long for IAM keep the run prefix and stay unique and within 64 characters', () => {
    const a = source(`a${'x'.repeat(60)}`, 'lmn0pq7a1');
    const b = source(`a${'x'.repeat(59)}y`, 'lmn0pq7a1');
    for (const kind of ['identity', 'identity-assume', 'revoke-sessions'] as const) {
      expect(iamName(a, kind).length).toBeLessThanOrEqual(64);
      expect(iamName(a, kind).startsWith(runPrefix('lmn0pq7a1'))).toBe(true);
    }
    expect(stem(a)).not.toBe(stem(b));
    expect(ownedBy(a, iamName(b, 'role'))).toBe(false);
  });

  test('bucket names: lower case, no dots, at most 63 characters, with the run prefix', () => {
    const long = source(`s${'y'.repeat(62)}`, 'ABC');
    const name = bucketName(long);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^jitc-abc-[a-z0-9-]+$/);
    expect(bucketName(source('privilege-width'))).toBe('jitc-r1-privilege-width');
  });

  test('session names fit STS limits', () => {
    expect(sessionName(source('x', 'r'.repeat(70)), 'task').length).toBeLessThanOrEqual(64);
    expect(sessionName(source('x'), 'task')).toBe('r1-task');
  });
});
