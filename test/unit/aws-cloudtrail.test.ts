/**
 * The matching behind AWS's `audit-trail` check, on records shaped as CloudTrail's documentation
 * shows them (record contents, the IAM and STS log examples, an S3 data event): the grant's issue,
 * use and end are found by its access key id, each one missing is named, and an end only counts
 * when it happened before the residue was read.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { type GrantFacts, judgeRecords, parseExpiration, relevantTo } from '../../adapters/aws/audit-trail.ts';
import { dayFolders, parseLogFile, reduceRecord, trailLocation, type TrailRecord } from '../../adapters/aws/cloudtrail.ts';
import type { TargetConnection } from '../../adapters/contract.ts';

const ACCOUNT = '111122223333';
const KEY = 'AKIAIOSFODNN7EXAMPLE';
const SESSION_KEY = 'ASIAI44QH8DHBEXAMPLE';
const OWN_KEY = 'AKIAI44QH8DHBEXAMPLE';
const ADMIN_KEY = 'AKIAADMINADMEXAMPLE';
const BUCKET = 'jitc-r1-s1';
const OBJECT = 'task/object.txt';

const admin = { type: 'IAMUser', principalId: 'AIDAJ45Q7YFFAREXAMPLE', arn: `arn:aws:iam::${ACCOUNT}:user/Admin`, accountId: ACCOUNT, accessKeyId: ADMIN_KEY, userName: 'Admin' };

/** A management event as CloudTrail writes one for IAM (global: us-east-1, iam.amazonaws.com). */
function iam(eventName: string, eventTime: string, requestParameters: Record<string, unknown>, responseElements: Record<string, unknown> | null = null, extra: Record<string, unknown> = {}) {
  return {
    eventVersion: '1.08',
    userIdentity: admin,
    eventTime,
    eventSource: 'iam.amazonaws.com',
    eventName,
    awsRegion: 'us-east-1',
    sourceIPAddress: '192.0.2.1',
    userAgent: 'aws-sdk-js/3',
    requestParameters,
    responseElements,
    requestID: `req-${eventName}-${eventTime}`,
    eventID: `ev-${eventName}-${eventTime}`,
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: ACCOUNT,
    eventCategory: 'Management',
    ...extra,
  };
}

function createAccessKey(eventTime: string) {
  return iam('CreateAccessKey', eventTime, { userName: 'worker' }, { accessKey: { accessKeyId: KEY, status: 'Active', userName: 'worker', createDate: 'Dec 7, 2026 2:00:00 AM' } });
}

/** An S3 data event: the GetObject of the task object, signed with `key`. */
function getObject(eventTime: string, key: string, errorCode?: string) {
  return {
    eventVersion: '1.09',
    userIdentity: { type: 'IAMUser', principalId: 'AIDAEXAMPLEWORKER', arn: `arn:aws:iam::${ACCOUNT}:user/worker`, accountId: ACCOUNT, accessKeyId: key, userName: 'worker' },
    eventTime,
    eventSource: 's3.amazonaws.com',
    eventName: 'GetObject',
    awsRegion: 'eu-west-1',
    sourceIPAddress: '192.0.2.1',
    userAgent: 'aws-sdk-js/3',
    requestParameters: { bucketName: BUCKET, Host: `${BUCKET}.s3.eu-west-1.amazonaws.com`, key: OBJECT },
    responseElements: null,
    ...(errorCode ? { errorCode, errorMessage: 'Access Denied' } : {}),
    requestID: `req-get-${eventTime}`,
    eventID: `ev-get-${eventTime}`,
    readOnly: true,
    resources: [{ type: 'AWS::S3::Object', ARN: `arn:aws:s3:::${BUCKET}/${OBJECT}` }],
    eventType: 'AwsApiCall',
    managementEvent: false,
    recipientAccountId: ACCOUNT,
    eventCategory: 'Data',
  };
}

/** AssumeRole as STS's record shows it: the session's key and Expiration in responseElements. */
function assumeRole(eventTime: string, expiration: string) {
  return {
    ...iam(
      'AssumeRole',
      eventTime,
      { roleArn: `arn:aws:iam::${ACCOUNT}:role/jitc-r1-s1.role`, roleSessionName: 'jitc-r1-s1', durationSeconds: 900 },
      {
        credentials: { accessKeyId: SESSION_KEY, sessionToken: '<encoded session token blob>', expiration },
        assumedRoleUser: { assumedRoleId: 'AROAEXAMPLE:jitc-r1-s1', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/jitc-r1-s1.role/jitc-r1-s1` },
      },
    ),
    eventSource: 'sts.amazonaws.com',
    awsRegion: 'eu-west-1',
  };
}

const records = (raws: unknown[]): TrailRecord[] => raws.map((r) => reduceRecord(r)).filter((r): r is TrailRecord => r !== undefined);

const T = (s: string): number => Date.parse(`2026-12-07T02:${s}Z`);
const facts = (over: Partial<GrantFacts> = {}): GrantFacts => ({
  keyId: KEY,
  requester: { userName: 'identity', accessKeyId: OWN_KEY },
  object: { bucket: BUCKET, key: OBJECT },
  since: T('00:00'),
  residueReadAt: T('00:20'),
  ...over,
});
const DATA = { dataEvents: true };

describe('a key the broker created for the task', () => {
  test('CreateAccessKey, the GetObject signed with the key and DeleteAccessKey before the residue read are all found', () => {
    const judged = judgeRecords(records([createAccessKey('2026-12-07T02:00:02Z'), getObject('2026-12-07T02:00:04Z', KEY), iam('DeleteAccessKey', '2026-12-07T02:00:10Z', { userName: 'worker', accessKeyId: KEY })]), facts(), DATA);
    expect(judged.missing).toEqual([]);
    expect(judged.found.map((f) => f.name)).toEqual([`issue: CreateAccessKey answering with ${KEY}`, `use: GetObject of s3://${BUCKET}/${OBJECT} signed with ${KEY}`, `end: DeleteAccessKey naming ${KEY}`]);
  });

  test('without DeleteAccessKey the end is named missing', () => {
    const judged = judgeRecords(records([createAccessKey('2026-12-07T02:00:02Z'), getObject('2026-12-07T02:00:04Z', KEY)]), facts(), DATA);
    expect(judged.missing).toEqual([`end (no DeleteAccessKey naming ${KEY} before the residue was read at 2026-12-07T02:00:20.000Z)`]);
  });

  test("a deletion after the residue read is the harness's teardown, not the grant's end, and one in the residue read's own second does not count either", () => {
    for (const when of ['2026-12-07T02:00:25Z', '2026-12-07T02:00:20Z']) {
      const judged = judgeRecords(records([createAccessKey('2026-12-07T02:00:02Z'), getObject('2026-12-07T02:00:04Z', KEY), iam('DeleteAccessKey', when, { userName: 'worker', accessKeyId: KEY })]), facts(), DATA);
      expect(judged.missing, when).toHaveLength(1);
      expect(judged.missing[0], when).toMatch(/^end \(no DeleteAccessKey/);
    }
  });

  test("another key's records and failed calls do not stand for the grant's", () => {
    const other = 'AKIAOTHEROTHEXAMPLE';
    const judged = judgeRecords(
      records([
        { ...createAccessKey('2026-12-07T02:00:02Z'), responseElements: { accessKey: { accessKeyId: other, userName: 'worker', status: 'Active' } } },
        getObject('2026-12-07T02:00:04Z', other),
        getObject('2026-12-07T02:00:05Z', KEY, 'AccessDenied'),
        iam('DeleteAccessKey', '2026-12-07T02:00:10Z', { userName: 'worker', accessKeyId: KEY }, null, { errorCode: 'NoSuchEntityException' }),
      ]),
      facts(),
      DATA,
    );
    expect(judged.found).toEqual([]);
    expect(judged.missing).toEqual([expect.stringMatching(/^issue \(no CreateAccessKey or AssumeRole answering with AKIAIOSFODNN7EXAMPLE\)$/), expect.stringMatching(/^use \(no GetObject/)]);
  });

  test('a record made before the scenario set up is not its grant', () => {
    const judged = judgeRecords(records([createAccessKey('2026-12-07T01:59:58Z'), getObject('2026-12-07T02:00:04Z', KEY)]), facts(), DATA);
    expect(judged.missing[0]).toMatch(/^issue/);
  });

  test('with no S3 data event delivered at all, the missing use says the trail does not log data events', () => {
    const judged = judgeRecords(records([createAccessKey('2026-12-07T02:00:02Z'), iam('DeleteAccessKey', '2026-12-07T02:00:10Z', { userName: 'worker', accessKeyId: KEY })]), facts(), { dataEvents: false });
    expect(judged.missing).toEqual([expect.stringContaining('it does not log data events for this bucket')]);
  });
});

describe("a binding on the task identity's own key", () => {
  const bound = facts({ keyId: OWN_KEY });
  const policyArn = `arn:aws:iam::${ACCOUNT}:policy/jitc-r1-s1.grant`;
  const use = getObject('2026-12-07T02:00:04Z', OWN_KEY);

  test('AttachUserPolicy naming the identity is the issue, DetachUserPolicy of the same policy the end', () => {
    const judged = judgeRecords(
      records([getObject('2026-12-07T02:00:01Z', OWN_KEY, 'AccessDenied'), iam('AttachUserPolicy', '2026-12-07T02:00:02Z', { userName: 'identity', policyArn }), use, iam('DetachUserPolicy', '2026-12-07T02:00:10Z', { userName: 'identity', policyArn })]),
      bound,
      DATA,
    );
    expect(judged.missing).toEqual([]);
    expect(judged.found.map((f) => f.record?.eventName)).toEqual(['AttachUserPolicy', 'GetObject', 'DetachUserPolicy']);
  });

  test('each binding needs its own end: an inline policy written beside the attachment and never deleted is named', () => {
    const judged = judgeRecords(
      records([
        iam('AttachUserPolicy', '2026-12-07T02:00:02Z', { userName: 'identity', policyArn }),
        iam('PutUserPolicy', '2026-12-07T02:00:02Z', { userName: 'identity', policyName: 'jitc-r1-s1.grant', policyDocument: '{}' }),
        use,
        iam('DetachUserPolicy', '2026-12-07T02:00:10Z', { userName: 'identity', policyArn }),
      ]),
      bound,
      DATA,
    );
    expect(judged.missing).toEqual(['end of PutUserPolicy jitc-r1-s1.grant (no DeleteUserPolicy before the residue was read at 2026-12-07T02:00:20.000Z)']);
  });

  test('a group membership ends with RemoveUserFromGroup of that group, not of another', () => {
    const raws = [iam('AddUserToGroup', '2026-12-07T02:00:02Z', { userName: 'identity', groupName: 'jitc-r1-s1.group' }), use];
    expect(judgeRecords(records([...raws, iam('RemoveUserFromGroup', '2026-12-07T02:00:10Z', { userName: 'identity', groupName: 'jitc-r1-s1.group' })]), bound, DATA).missing).toEqual([]);
    expect(judgeRecords(records([...raws, iam('RemoveUserFromGroup', '2026-12-07T02:00:10Z', { userName: 'identity', groupName: 'another' })]), bound, DATA).missing).toHaveLength(1);
  });
});

describe('a role session', () => {
  const session = facts({ keyId: SESSION_KEY, requester: undefined });
  const use = getObject('2026-12-07T02:00:04Z', SESSION_KEY);

  test("AWS's revocation of the role's older sessions is the end", () => {
    const revoke = iam('PutRolePolicy', '2026-12-07T02:00:10Z', {
      roleName: 'jitc-r1-s1.role',
      policyName: 'AWSRevokeOlderSessions',
      policyDocument: encodeURIComponent('{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-12-07T02:00:10Z"}}}]}'),
    });
    const judged = judgeRecords(records([assumeRole('2026-12-07T02:00:02Z', 'Dec 7, 2026 2:15:02 AM'), use, revoke]), session, DATA);
    expect(judged.missing).toEqual([]);
    expect(judged.found.at(-1)?.name).toBe('end: PutRolePolicy on role jitc-r1-s1.role revoking its older sessions');
  });

  test('a role policy that does not deny by issue time is no revocation', () => {
    const other = iam('PutRolePolicy', '2026-12-07T02:00:10Z', { roleName: 'jitc-r1-s1.role', policyName: 'more', policyDocument: '{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}' });
    expect(judgeRecords(records([assumeRole('2026-12-07T02:00:02Z', 'Dec 7, 2026 2:15:02 AM'), use, other]), session, DATA).missing).toEqual([expect.stringMatching(/^end \(no revocation of role jitc-r1-s1.role's sessions/)]);
  });

  test('a session whose stated Expiration passed before the residue read ended by expiry, which writes no record', () => {
    const judged = judgeRecords(records([assumeRole('2026-12-07T02:00:02Z', 'Dec 7, 2026 2:00:07 AM'), use]), session, DATA);
    expect(judged.missing).toEqual([]);
    expect(judged.found.at(-1)).toEqual({ name: 'end by expiry', note: expect.stringContaining('expired at 2026-12-07T02:00:07.000Z') });
  });

  test('a session still valid when the residue was read, with no revocation, is a missing end', () => {
    const judged = judgeRecords(records([assumeRole('2026-12-07T02:00:02Z', 'Dec 7, 2026 2:15:02 AM'), use]), session, DATA);
    expect(judged.missing).toEqual([expect.stringContaining('its Expiration 2026-12-07T02:15:02.000Z had not passed by then')]);
  });
});

describe('reading log files', () => {
  test("STS's Expiration is read in the record's own format, with or without a comma after the year, and as ISO 8601", () => {
    expect(parseExpiration('Mar 14, 2014 1:26:24 AM')).toBe(Date.parse('2014-03-14T01:26:24Z'));
    expect(parseExpiration('Oct 2, 2019, 12:45:20 PM')).toBe(Date.parse('2019-10-02T12:45:20Z'));
    expect(parseExpiration('Oct 2, 2019, 12:45:20 AM')).toBe(Date.parse('2019-10-02T00:45:20Z'));
    expect(parseExpiration('2019-10-02T12:45:20Z')).toBe(Date.parse('2019-10-02T12:45:20Z'));
    expect(parseExpiration('soon')).toBeNaN();
  });

  test('a gzip log file yields its Records; a file without them is refused', () => {
    const file = gzipSync(JSON.stringify({ Records: [createAccessKey('2026-12-07T02:00:02Z')] }));
    expect(records(parseLogFile(file))).toEqual([expect.objectContaining({ eventName: 'CreateAccessKey', accessKeyId: ADMIN_KEY, eventCategory: 'Management' })]);
    expect(() => parseLogFile(gzipSync('{"digestStartTime":"x"}'))).toThrow(/no "Records" array/);
  });

  test('only records that can be the grant’s are kept while reading', () => {
    const keep = relevantTo({ keyId: KEY, requester: { userName: 'identity', accessKeyId: OWN_KEY } });
    const kept = records([
      createAccessKey('2026-12-07T02:00:02Z'),
      getObject('2026-12-07T02:00:04Z', KEY),
      iam('CreateUser', '2026-12-07T02:00:01Z', { userName: 'someone' }),
      iam('AttachUserPolicy', '2026-12-07T02:00:02Z', { userName: 'someone-else', policyArn: 'x' }),
      iam('AttachUserPolicy', '2026-12-07T02:00:02Z', { userName: 'identity', policyArn: 'x' }),
    ]).filter(keep);
    expect(kept.map((r) => `${r.eventName} ${String(r.requestParameters.userName ?? '')}`)).toEqual(['CreateAccessKey worker', 'GetObject ', 'AttachUserPolicy identity']);
  });

  test('the day folders run from the setup day to today, across a month end', () => {
    expect(dayFolders(Date.parse('2026-11-30T23:58:00Z'), Date.parse('2026-12-01T00:03:00Z'))).toEqual(['2026/11/30/', '2026/12/01/']);
  });

  test('a trail is read only on an external target that names its bucket', () => {
    const connection = (mode: TargetConnection['mode'], settings: Record<string, string>): TargetConnection => ({ adapter: 'aws', mode, address: '', settings: { region: 'eu-west-1', account: ACCOUNT, ...settings }, secretSettings: [], facts: {} });
    expect(trailLocation(connection('local', { cloudTrailBucket: 'trail' }))).toBeUndefined();
    expect(trailLocation(connection('external', {}))).toBeUndefined();
    expect(trailLocation(connection('external', { cloudTrailBucket: 'trail', cloudTrailPrefix: 'org', cloudTrailDeliveryMinutes: '5' }))).toEqual({
      bucket: 'trail',
      prefix: 'org',
      account: ACCOUNT,
      regions: ['eu-west-1', 'us-east-1'],
      deliveryMs: 300_000,
    });
  });
});
