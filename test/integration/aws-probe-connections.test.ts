/**
 * Every probe on a new connection, sent where the scenario says: against a real moto_server, with
 * an HTTP relay in front of it standing for one node of a balanced target. The relay keeps client
 * connections alive (moto itself closes each one, which would hide a pooled socket) and counts the
 * connections it accepts, so a probe that reused a pooled socket — and would keep asking the same
 * node behind a balancer — shows up as a missing connection.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { AwsClient } from '../../adapters/aws/client.ts';
import { type AwsKeys, keysOf } from '../../adapters/aws/credentials.ts';
import awsAdapter from '../../adapters/aws/index.ts';
import type { Grant, ReuseHandle, StartedTarget } from '../../adapters/contract.ts';
import { pairContexts, type PairContexts } from '../support/half-contexts.ts';
import { testRunId } from '../support/run-id.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

let target: StartedTarget;
let admin: AwsClient;
let relay: Server;
let node: string;
let accepted = 0;
const sockets = new Set<Socket>();
const runId = testRunId();
let halves: PairContexts<AwsClient> | undefined;
let sourceSetUp = false;
let grant: Grant;

/** The task identity's own key, which the s3-object point of use creates and hands on as the resource's requester. */
function identityKey(): AwsKeys {
  return keysOf(halves?.grantCtx.resource.requester) ?? expect.unreachable('the point of use handed on no requester key');
}

function handle(check: string): ReuseHandle {
  const found = grant.handles.find((h) => h.check === check);
  if (!found) throw new Error(`no ${check} handle`);
  return found;
}

beforeAll(async () => {
  target = await awsAdapter.targets.local!.start({ runId, workDir: mkdtempSync(join(tmpdir(), 'jitc-aws-conn-')), projectRoot: PROJECT_ROOT, config: {}, log: () => undefined });
  admin = await awsAdapter.connect(target.connection);
  const upstream = new URL(target.connection.address);
  // Headers pass unchanged, the signed Host included: moto checks the signature the client made.
  relay = createServer({ keepAlive: true }, (req, res) => {
    const up = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      // Hop-by-hop: moto's "Connection: close" is about its own socket, not the client's.
      const { connection: _connection, 'keep-alive': _keepAlive, ...headers } = answer.headers;
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  relay.on('connection', (socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const address = relay.address();
  if (address === null || typeof address === 'string') throw new Error('relay has no port');
  node = `http://127.0.0.1:${address.port}`;

  halves = pairContexts(awsAdapter, 'access-key', admin, target.connection, {
    runId,
    scenarioId: 'probe-connections',
    params: {},
    task: { windowSeconds: 60, approver: 'test', needs: ['s3:GetObject on the task object'] },
  });
  const { point, source, useCtx, grantCtx } = halves;
  expect(point).toBe(awsAdapter.pointsOfUse['s3-object']);
  expect(source).toBe(awsAdapter.grantSources['access-key']);
  grantCtx.resource = await point.setup(useCtx);
  sourceSetUp = true;
  await source.setup(grantCtx);
  grant = await source.request(grantCtx);
}, 90_000);

afterAll(async () => {
  if (halves) {
    const { point, source, useCtx, grantCtx } = halves;
    // The source first (its worker hangs on the resource), then the point of use, as the engine does.
    try {
      if (sourceSetUp) await source.teardown(grantCtx);
    } finally {
      await point.teardown(useCtx);
    }
  }
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => (relay ? relay.close(() => resolve()) : resolve()));
  if (admin) await awsAdapter.disconnect?.(admin);
  await target?.stop();
});

describe('probes of an AWS grant', () => {
  test('each probe of the credential opens a new connection to the node it is given', async () => {
    const before = accepted;
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await handle('reuse-denied').probe(node));
    expect(answers.map((a) => a.outcome)).toEqual(['allowed', 'allowed', 'allowed']);
    expect(accepted - before).toBe(3);
  });

  test("each broker lookup a handle makes (is the key still listed?) opens a new connection to the node too", async () => {
    const before = accepted;
    for (let i = 0; i < 3; i++) expect((await handle('credential-invalidated').probe(node)).outcome).toBe('allowed');
    expect(accepted - before).toBe(3);
  });

  test('a probe client keeps no connection alive: two requests through it are two connections', async () => {
    const c = admin.as(identityKey(), node);
    const before = accepted;
    try {
      await c.sts.send(new GetCallerIdentityCommand({}));
      await c.sts.send(new GetCallerIdentityCommand({}));
    } finally {
      c.destroy();
    }
    expect(accepted - before).toBe(2);
  });

  test("without a node the probe goes to the target's own address, not the node", async () => {
    const before = accepted;
    expect((await handle('reuse-denied').probe()).outcome).toBe('allowed');
    expect(accepted).toBe(before);
  });

  test('once the key is deleted the node answers with the denial, read as denied', async () => {
    const { source, grantCtx } = halves ?? expect.unreachable('no grant');
    await source.end(grantCtx, grant, 'revoke');
    const before = accepted;
    const answer = await handle('reuse-denied').probe(node);
    expect(answer.outcome, answer.detail).toBe('denied');
    expect(answer.detail).toMatch(/^HTTP 403 InvalidAccessKeyId/);
    expect(accepted - before).toBe(1);
  });
});
