/**
 * The AWS `audit-trail` check through the engine, in external mode, against a real moto_server
 * whose S3 holds a trail bucket: moto keeps no CloudTrail, so the test plays the trail. A small
 * writer sees the scenario's own key id, object and times as the halves see them (it wraps the
 * adapter's halves without changing what they do) and, once the residue was read, delivers gzip
 * log files in CloudTrail's documented layout and record format — the records the account would
 * hold. What is tested is jitc's reading of that format from an S3 bucket, not a real account.
 *
 * With the complete trail the check passes; with the end left out it fails naming the end; with
 * records of another key it fails; with nothing delivered after the residue read, or no bucket to
 * read, it is inconclusive.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import awsAdapter from '../../adapters/aws/index.ts';
import type { AwsClient } from '../../adapters/aws/client.ts';
import { keysOf } from '../../adapters/aws/credentials.ts';
import { awsTargets } from '../../adapters/aws/targets.ts';
import { OBJECT_ARN } from '../../adapters/aws/terms.ts';
import type { Adapter, GrantSource, PointOfUse, StartedTarget, TargetConnection } from '../../adapters/contract.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { targetsOf } from '../support/bound.ts';
import { testRunId } from '../support/run-id.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const TRAIL_BUCKET = `jitc-trail-${randomBytes(3).toString('hex')}`;
const CREDENTIAL_VARS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'];
const saved = Object.fromEntries(CREDENTIAL_VARS.map((name) => [name, process.env[name]]));

let target: StartedTarget;
let admin: AwsClient;
let workDir: string;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'jitc-aws-cloudtrail-'));
  target = await awsAdapter.targets.local!.start({ runId: testRunId(), workDir, projectRoot: PROJECT_ROOT, config: {}, log: () => undefined });
  admin = await awsAdapter.connect(target.connection);
  await admin.s3.send(new CreateBucketCommand({ Bucket: TRAIL_BUCKET }));
  // External mode reads its credential through the SDK default chain, as on a real account.
  process.env.AWS_ACCESS_KEY_ID = target.connection.settings.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = target.connection.settings.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
}, 60_000);

afterAll(async () => {
  for (const name of CREDENTIAL_VARS) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  if (admin) await awsAdapter.disconnect?.(admin);
  await target?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** What the writer saw of one scenario, as the halves saw it. */
interface Seen {
  keyId?: string;
  /** The user the grant's records name: the access key's worker, or the task identity a policy is attached to. */
  worker?: string;
  /** The policy a binding grant attaches; absent for a key made for the task. */
  policyArn?: string;
  object?: { bucket: string; key: string };
  issuedAt?: string;
  usedAt?: string;
  endedAt?: string;
}

type Trail = 'complete' | 'without end' | 'of another key' | 'delivered only up to the use';

const second = (ms: number | string): string => new Date(Math.floor(new Date(ms).getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const pad = (n: number): string => String(n).padStart(2, '0');

/** A record as CloudTrail writes one, with the fields correlation reads and those every record carries. */
function record(eventSource: string, eventName: string, eventTime: string, accessKeyId: string, requestParameters: Record<string, unknown>, responseElements: Record<string, unknown> | null, category: 'Management' | 'Data') {
  const account = target.connection.settings.account!;
  return {
    eventVersion: '1.09',
    userIdentity: { type: 'IAMUser', principalId: 'AIDAEXAMPLE', arn: `arn:aws:iam::${account}:user/someone`, accountId: account, accessKeyId, userName: 'someone' },
    eventTime: second(eventTime),
    eventSource,
    eventName,
    awsRegion: 'us-east-1',
    sourceIPAddress: '127.0.0.1',
    userAgent: 'aws-sdk-js/3',
    requestParameters,
    responseElements,
    requestID: randomBytes(8).toString('hex'),
    eventID: randomBytes(8).toString('hex'),
    readOnly: category === 'Data',
    eventType: 'AwsApiCall',
    managementEvent: category === 'Management',
    recipientAccountId: account,
    eventCategory: category,
  };
}

/** Deliver one log file, named and placed as CloudTrail does. */
async function deliver(prefix: string, records: unknown[]): Promise<void> {
  const account = target.connection.settings.account!;
  const region = 'us-east-1';
  const now = new Date();
  const day = `${now.getUTCFullYear()}/${pad(now.getUTCMonth() + 1)}/${pad(now.getUTCDate())}`;
  const stamp = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}T${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}Z`;
  const key = `${prefix}/AWSLogs/${account}/CloudTrail/${region}/${day}/${account}_CloudTrail_${region}_${stamp}_${randomBytes(8).toString('hex')}.json.gz`;
  await admin.s3.send(new PutObjectCommand({ Bucket: TRAIL_BUCKET, Key: key, Body: gzipSync(JSON.stringify({ Records: records })) }));
}

/** The records the account would hold for what the writer saw; `trail` says what is left out or changed. */
function trailRecords(seen: Seen, trail: Trail): unknown[] {
  const { keyId, worker, policyArn, object, issuedAt, usedAt, endedAt } = seen;
  if (!keyId || !object || !issuedAt || !usedAt || !endedAt) throw new Error(`the writer did not see the whole grant: ${JSON.stringify(seen)}`);
  const key = trail === 'of another key' ? 'AKIAOTHERKEYEXAMPLE' : keyId;
  const adminKey = target.connection.settings.accessKeyId!;
  const ended = trail === 'complete' || trail === 'of another key';
  const [issue, end] = policyArn
    ? [
        record('iam.amazonaws.com', 'AttachUserPolicy', issuedAt, adminKey, { userName: worker, policyArn }, null, 'Management'),
        record('iam.amazonaws.com', 'DetachUserPolicy', endedAt, adminKey, { userName: worker, policyArn }, null, 'Management'),
      ]
    : [
        record('iam.amazonaws.com', 'CreateAccessKey', issuedAt, adminKey, { userName: worker }, { accessKey: { accessKeyId: key, status: 'Active', userName: worker } }, 'Management'),
        record('iam.amazonaws.com', 'DeleteAccessKey', endedAt, adminKey, { userName: worker, accessKeyId: key }, null, 'Management'),
      ];
  return [
    issue,
    record('s3.amazonaws.com', 'GetObject', usedAt, key, { bucketName: object.bucket, Host: 'localhost', key: object.key }, null, 'Data'),
    ...(ended ? [end] : []),
    // Whatever else the account did since: the trail has delivered past the scenario's end. A
    // second later, as CloudTrail's times are whole seconds: one in the residue read's own second
    // cannot show it came after.
    ...(trail === 'delivered only up to the use' ? [] : [record('s3.amazonaws.com', 'ListBuckets', new Date(Date.now() + 1000).toISOString(), adminKey, {}, null, 'Management')]),
  ];
}

/**
 * The AWS adapter with a grant source and the `s3-object` point wrapped: each call goes to the
 * real half unchanged; the writer only notes what it sees, and delivers the trail when the source
 * tears down (after the residue was read, before the point judges the trail at its own teardown).
 */
function withTrailWriter(prefix: string, trail: Trail | undefined, sourceName: 'access-key' | 'policy-binding'): Adapter<AwsClient> {
  const seen: Seen = {};
  const source = awsAdapter.grantSources[sourceName] as GrantSource<unknown, AwsClient>;
  const point = awsAdapter.pointsOfUse['s3-object'] as PointOfUse<unknown, AwsClient>;
  const wrappedSource: GrantSource<unknown, AwsClient> = {
    ...source,
    async request(ctx) {
      const grant = await source.request(ctx);
      seen.keyId = keysOf(grant.credential)?.accessKeyId;
      seen.issuedAt = grant.issuedAt;
      seen.worker = String(grant.attributes.user);
      if (sourceName === 'policy-binding') seen.policyArn = String(grant.attributes.policy);
      return grant;
    },
    async end(ctx, grant, mode) {
      seen.endedAt = new Date().toISOString();
      await source.end(ctx, grant, mode);
    },
    async teardown(ctx) {
      if (trail) await deliver(prefix, trailRecords(seen, trail));
      return source.teardown(ctx);
    },
  };
  const wrappedPoint: PointOfUse<unknown, AwsClient> = {
    ...point,
    async setup(ctx) {
      const resource = await point.setup(ctx);
      const [, bucket = '', key = ''] = /^arn:[^:]+:s3:::([^/]+)\/(.+)$/.exec(resource.terms[OBJECT_ARN] ?? '') ?? [];
      seen.object = { bucket, key };
      return resource;
    },
    async use(ctx, credential) {
      const used = await point.use(ctx, credential);
      seen.usedAt = used.at;
      return used;
    },
  };
  return { ...awsAdapter, grantSources: { ...awsAdapter.grantSources, [sourceName]: wrappedSource }, pointsOfUse: { ...awsAdapter.pointsOfUse, 's3-object': wrappedPoint } };
}

async function externalConnection(cloudTrail: Record<string, unknown> | undefined): Promise<TargetConnection> {
  return awsTargets.external!.connect({
    runId: 'r1',
    workDir,
    projectRoot: PROJECT_ROOT,
    config: { region: 'us-east-1', endpoint: target.connection.address, ...(cloudTrail ? { cloudTrail } : {}) },
    log: () => undefined,
  });
}

const SOURCE_OF = { 'iam-temporary-access-key': 'access-key', 'temporary-policy-binding': 'policy-binding' } as const;

/** Run a built-in scenario in external mode against the trail `cloudTrail` names. */
async function runWithTrail(cloudTrail: Record<string, unknown> | undefined, trail: Trail | undefined, id: keyof typeof SOURCE_OF = 'iam-temporary-access-key'): Promise<ScenarioResult> {
  const [scenario] = (await loadBuiltinScenarios(['aws'])).filter((s) => s.id === id);
  if (!scenario) throw new Error(`no built-in ${id} scenario`);
  const connection = await externalConnection(cloudTrail);
  const adapter = withTrailWriter(String(cloudTrail?.prefix ?? ''), trail, SOURCE_OF[id]);
  const client = await adapter.connect(connection);
  try {
    return await runScenario(scenario, { runId: testRunId(), targets: targetsOf({ adapter, client, connection }), signal: new AbortController().signal, secrets: new SecretRegistry() });
  } finally {
    await adapter.disconnect?.(client);
  }
}

const auditTrail = (r: ScenarioResult) => r.checks.find((c) => c.name === 'audit-trail');
const all = (r: ScenarioResult): string => r.checks.map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');

describe("the account's own CloudTrail, read from its bucket", () => {
  const results = new Map<string, ScenarioResult>();

  beforeAll(async () => {
    // A tenth of a minute for delivery: a trail left incomplete is judged after 6 s, not 15 min.
    const runs: [string, Record<string, unknown> | undefined, Trail | undefined][] = [
      ['complete', { bucket: TRAIL_BUCKET, prefix: 'complete', deliveryMinutes: 0.1 }, 'complete'],
      ['without end', { bucket: TRAIL_BUCKET, prefix: 'no-end', deliveryMinutes: 0.1 }, 'without end'],
      ['of another key', { bucket: TRAIL_BUCKET, prefix: 'other-key', deliveryMinutes: 0.1 }, 'of another key'],
      ['late', { bucket: TRAIL_BUCKET, prefix: 'late', deliveryMinutes: 0.1 }, 'delivered only up to the use'],
      ['unreadable', { bucket: `${TRAIL_BUCKET}-absent`, deliveryMinutes: 0.1 }, undefined],
      ['not named', undefined, undefined],
    ];
    const done = await Promise.all([
      ...runs.map(async ([name, config, trail]) => [name, await runWithTrail(config, trail)] as const),
      (async () => ['binding', await runWithTrail({ bucket: TRAIL_BUCKET, prefix: 'binding', deliveryMinutes: 0.1 }, 'complete', 'temporary-policy-binding')] as const)(),
    ]);
    for (const [name, result] of done) results.set(name, result);
  }, 180_000);

  test('a trail holding the grant key\'s CreateAccessKey, GetObject and DeleteAccessKey passes, naming each record', () => {
    const r = results.get('complete')!;
    expect(auditTrail(r)?.verdict, all(r)).toBe('pass');
    expect(auditTrail(r)?.detail).toMatch(/issue: CreateAccessKey answering with AKIA\w+ at .*; use: GetObject of s3:\/\/jitc-.*\/task\/object\.txt signed with AKIA\w+ at .*; end: DeleteAccessKey naming AKIA\w+ at /);
    // The rest of the scenario is judged as without a trail.
    expect(r.verdict, all(r)).toBe('pass');
    expect(r.evidence.some((e) => e.data?.notEvidenced === 'audit-trail')).toBe(false);
  });

  test("a policy attached to the task identity is found by the identity's own key: AttachUserPolicy naming it, its GetObject, DetachUserPolicy of the same policy", () => {
    const r = results.get('binding')!;
    expect(auditTrail(r)?.verdict, all(r)).toBe('pass');
    expect(auditTrail(r)?.detail).toMatch(/issue: AttachUserPolicy naming jitc-\w+-temporary-policy-binding\.identity at .*; use: GetObject .* signed with AKIA\w+ at .*; end: DetachUserPolicy of arn:aws:iam::\d+:policy\/jitc-/);
  });

  test('a trail without the DeleteAccessKey fails, naming the end as missing', () => {
    const r = results.get('without end')!;
    expect(auditTrail(r)?.verdict, all(r)).toBe('fail');
    expect(auditTrail(r)?.detail).toMatch(/missing from s3:\/\/.*: end \(no DeleteAccessKey naming AKIA\w+ before the residue was read at /);
  });

  test("a complete trail of another key is not the scenario's: issue, use and end are all missing", () => {
    const r = results.get('of another key')!;
    expect(auditTrail(r)?.verdict, all(r)).toBe('fail');
    expect(auditTrail(r)?.detail).toMatch(/missing from .*: issue \(no CreateAccessKey or AssumeRole answering with AKIA\w+\); use \(no GetObject/);
  });

  test('a trail that has delivered nothing made after the residue read by the bound leaves the check inconclusive, saying how long it waited', () => {
    const r = results.get('late')!;
    expect(auditTrail(r)?.verdict, all(r)).toBe('inconclusive');
    expect(auditTrail(r)?.detail).toMatch(/^CloudTrail has delivered no record made after the residue was read \(.*\): waited \d+ s, up to 0\.1 min after the residue read, so these may still arrive: end \(no DeleteAccessKey/);
  });

  test('a bucket that cannot be read leaves the check inconclusive, saying what S3 answered', () => {
    const r = results.get('unreadable')!;
    expect(auditTrail(r)?.verdict, all(r)).toBe('inconclusive');
    expect(auditTrail(r)?.detail).toMatch(/the CloudTrail bucket s3:\/\/jitc-trail-\w+-absent\/AWSLogs\/\d+\/CloudTrail\/ could not be read: .*NoSuchBucket/);
  });

  test('without aws.cloudTrail an external target declares the check not evidenced, and emits none', () => {
    const r = results.get('not named')!;
    expect(auditTrail(r), all(r)).toBeUndefined();
    expect(r.evidence.some((e) => e.data?.notEvidenced === 'audit-trail' && /no CloudTrail bucket is named \(aws\.cloudTrail\)/.test(e.event))).toBe(true);
    expect(results.get('complete')!.evidence.some((e) => /CloudTrail is read from s3:\/\/jitc-trail-\w+\/complete\/AWSLogs\//.test(e.event))).toBe(true);
  });
});
