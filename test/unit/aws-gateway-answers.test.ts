/**
 * What a gateway's answer is worth: the real SDK clients the probes use, against a local HTTP
 * server standing in for a proxy or gateway in front of AWS. Only AWS's own error document makes a
 * denial; a bare 403, whatever its body or headers say, is `unknown` — for a probe and for the
 * holder's extension attempts alike.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, GetSessionTokenCommand } from '@aws-sdk/client-sts';
import { CreateAccessKeyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type AwsClient, connectAws } from '../../adapters/aws/client.ts';
import { notMinted } from '../../adapters/aws/extension/attempt.ts';
import { probe } from '../../adapters/aws/probes.ts';

interface Answer {
  headers: Record<string, string>;
  body: string;
}

let server: Server;
let answer: Answer = { headers: {}, body: '' };
let client: AwsClient;
const key = { accessKeyId: 'AKIAGATEWAYTEST00001', secretAccessKey: 'gateway-test-not-a-secret' };

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(403, answer.headers);
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = connectAws({
    adapter: 'aws',
    mode: 'external',
    address: endpoint,
    settings: { endpoint, region: 'us-east-1', account: '123456789012', brokerArn: 'arn:aws:iam::123456789012:user/broker', ...key },
    secretSettings: ['secretAccessKey'],
    facts: {},
  });
});

afterAll(async () => {
  client.iam.destroy();
  client.sts.destroy();
  client.s3.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** The three ways a probe or an attempt reaches AWS: S3 (REST XML), STS and IAM (query XML). */
async function outcomes(): Promise<string[]> {
  const c = client.as(key);
  try {
    return await Promise.all([
      probe(async () => void (await c.s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' })))).then((r) => `s3 ${r.outcome}`),
      probe(async () => void (await c.sts.send(new GetCallerIdentityCommand({})))).then((r) => `sts ${r.outcome}`),
      probe(async () => void (await c.iam.send(new CreateAccessKeyCommand({})))).then((r) => `iam ${r.outcome}`),
    ]);
  } finally {
    c.destroy();
  }
}

describe('a gateway answering 403 without AWS error document is unknown, never denied', () => {
  test.each([
    ['an empty body', { headers: {}, body: '' }],
    ['an HTML page that says AccessDenied', { headers: { 'content-type': 'text/html' }, body: '<html><body><h1>403 Forbidden</h1>AccessDenied</body></html>' }],
    ['a JSON body', { headers: { 'content-type': 'application/json' }, body: '{"message":"AccessDenied"}' }],
    ['an AWS error-type header without a body', { headers: { 'x-amzn-errortype': 'AccessDenied' }, body: '' }],
  ])('%s', async (_what, given) => {
    answer = given;
    expect(await outcomes()).toEqual(['s3 unknown', 'sts unknown', 'iam unknown']);
  });

  test("a holder's extension attempt refused by a gateway is unknown, not refused", async () => {
    answer = { headers: { 'content-type': 'text/html' }, body: '<h1>403 Forbidden</h1>' };
    const c = client.as(key);
    try {
      const error = await c.sts.send(new GetSessionTokenCommand({ DurationSeconds: 900 })).catch((e: unknown) => e);
      const result = notMinted(error, 'GetSessionToken');
      expect(result.outcome).toBe('unknown');
      expect(result.detail).toMatch(/^GetSessionToken: unrecognised answer: HTTP 403 Unknown/);
    } finally {
      c.destroy();
    }
  });
});

describe("AWS's own error document is read from the body", () => {
  test('an AccessDenied error document with its 403 is denied on every service', async () => {
    answer = {
      headers: { 'content-type': 'text/xml' },
      body: '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized</Message></Error></ErrorResponse>',
    };
    expect(await outcomes()).toEqual(['s3 denied', 'sts denied', 'iam denied']);
  });

  test('the same document refusing an extension attempt is refused', async () => {
    answer = { headers: { 'content-type': 'text/xml' }, body: '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>' };
    const c = client.as(key);
    try {
      const error = await c.sts.send(new GetSessionTokenCommand({ DurationSeconds: 900 })).catch((e: unknown) => e);
      expect(notMinted(error, 'GetSessionToken').outcome).toBe('refused');
    } finally {
      c.destroy();
    }
  });
});
