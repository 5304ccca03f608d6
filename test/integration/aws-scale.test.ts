/**
 * An AWS scenario's cost does not grow with the account: the requests three scenarios make to a
 * real moto, counted on the wire by service and action, are the same on the account as it starts
 * and once it holds a thousand unrelated users and hundreds of unrelated roles, groups and
 * policies. Residue is read from what the grant made (its user, key, role, group, policy by name),
 * never by listing the account.
 */
import { setMaxListeners } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { CreateGroupCommand, CreatePolicyCommand, CreateRoleCommand, CreateUserCommand } from '@aws-sdk/client-iam';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StartedTarget, TargetConnection } from '../../adapters/contract.ts';
import type { AwsClient } from '../../adapters/aws/client.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { targetsOf } from '../support/bound.ts';
import { CountingHttpProxy } from '../support/counting-http-proxy.ts';
import { testRunId } from '../support/run-id.ts';

const SCENARIOS = ['iam-temporary-access-key', 'temporary-group-membership', 'sts-revoke-active-sessions'];
const USERS = 1000;
const OTHERS = 250;
/**
 * Reads repeated until something holds (a propagation wait, the reuse poll, residue read again
 * until settled) follow latency, not the account's size: counted with slack. Every write is
 * counted exactly.
 */
const TIMED_SLACK = 4;

/** A request as the target sees it: service (from the signature's scope) and action (query API) or method and path shape (S3). */
function describeRequest(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): string {
  const service = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(String(headers.authorization ?? ''))?.[1] ?? 'unsigned';
  if (service === 's3') return `s3 ${method} ${path.replace(/\?.*$/, '').replace(/jitc-[^/]+/g, 'jitc-…')}`;
  return `${service} ${new URLSearchParams(body.toString('utf8')).get('Action') ?? method}`;
}

/** Users, roles, groups and policies nobody's scenario knows, made with the account's admin key. */
async function preload(client: AwsClient): Promise<number> {
  const started = performance.now();
  const limit = pLimit(16);
  const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${client.account}:root` }, Action: 'sts:AssumeRole' }] });
  const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::unrelated/*' }] });
  await Promise.all([
    ...Array.from({ length: USERS }, (_, i) => limit(() => client.iam.send(new CreateUserCommand({ UserName: `unrelated-user-${i}` })))),
    ...Array.from({ length: OTHERS }, (_, i) => limit(() => client.iam.send(new CreateRoleCommand({ RoleName: `unrelated-role-${i}`, AssumeRolePolicyDocument: trust })))),
    ...Array.from({ length: OTHERS }, (_, i) => limit(() => client.iam.send(new CreateGroupCommand({ GroupName: `unrelated-group-${i}` })))),
    ...Array.from({ length: OTHERS }, (_, i) => limit(() => client.iam.send(new CreatePolicyCommand({ PolicyName: `unrelated-policy-${i}`, PolicyDocument: policy })))),
  ]);
  return performance.now() - started;
}

let target: StartedTarget | undefined;
let proxy: CountingHttpProxy | undefined;
const runs: { label: string; scenario: string; result: ScenarioResult; calls: string[]; ms: number }[] = [];

beforeAll(async () => {
  const adapter = await getAdapter('aws');
  const runId = testRunId();
  [target] = await bringUp([adapter], { runId, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
  if (!target) throw new Error('the local moto did not start');
  proxy = await new CountingHttpProxy(target.connection.settings.endpoint ?? target.connection.address, describeRequest).start();
  const connection: TargetConnection = { ...target.connection, address: proxy.url, settings: { ...target.connection.settings, endpoint: proxy.url } };
  const client = (await adapter.connect(connection)) as AwsClient;
  const builtin = await loadBuiltinScenarios(['aws']);
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  const phase = async (label: string): Promise<void> => {
    // One at a time: the proxy tells scenarios apart only by when they ran.
    for (const id of SCENARIOS) {
      const base = builtin.find((s) => s.id === id) ?? expect.unreachable(`no aws/${id}`);
      const before = proxy!.calls.length;
      const started = performance.now();
      const result = await runScenario({ ...base, id: `${id}-${label}` }, { runId, targets: targetsOf({ adapter, client, connection }), signal });
      runs.push({ label, scenario: id, result, calls: proxy!.calls.slice(before), ms: performance.now() - started });
    }
  };
  try {
    await phase('empty');
    const preloadMs = await preload(client);
    console.log(`[aws-scale] ${USERS} users and ${OTHERS} roles, groups and policies each created in ${(preloadMs / 1000).toFixed(1)} s`);
    await phase('loaded');
  } finally {
    await adapter.disconnect?.(client);
  }
}, 420_000);

afterAll(async () => {
  await proxy?.stop();
  await target?.stop();
});

const isRead = (call: string): boolean => /^(iam|sts) (Get|List|Simulate)|^s3 (GET|HEAD) /.test(call) || call === 'sts GetCallerIdentity';
const tally = (calls: string[]): Record<string, number> => Object.fromEntries([...new Set(calls)].sort().map((c) => [c, calls.filter((x) => x === c).length]));

describe(`an AWS scenario's requests do not grow with ${USERS} unrelated users and ${OTHERS} unrelated roles, groups and policies`, () => {
  test('every scenario passes or is waived for the emulator the same way on both accounts', () => {
    for (const id of SCENARIOS) {
      const [empty, loaded] = ['empty', 'loaded'].map((label) => runs.find((r) => r.scenario === id && r.label === label));
      const detail = (r: typeof empty): string => `${r?.label}: ${r?.result.checks.map((c) => `${c.name}=${c.verdict} ${c.detail}`).join('\n')}`;
      expect(loaded?.result.verdict, detail(loaded)).toBe(empty?.result.verdict);
      expect(loaded?.result.checks.map((c) => `${c.name}=${c.verdict}`), detail(loaded)).toEqual(empty?.result.checks.map((c) => `${c.name}=${c.verdict}`));
    }
  });

  test('no scenario lists the account', () => {
    for (const run of runs) expect(run.calls.filter((c) => /^iam List(Users|Roles|Groups|Policies)$|^s3 GET \/$/.test(c)), run.scenario).toEqual([]);
  });

  test(`every write is the same, and each kind of read within ±${TIMED_SLACK}`, () => {
    for (const id of SCENARIOS) {
      const [empty, loaded] = ['empty', 'loaded'].map((label) => runs.find((r) => r.scenario === id && r.label === label));
      if (!empty || !loaded) return expect.unreachable(`both runs of ${id}`);
      const summary = [empty, loaded].map((r) => `${r.label}: ${r.calls.length} requests in ${(r.ms / 1000).toFixed(2)} s ${JSON.stringify(tally(r.calls))}`).join('; ');
      console.log(`[aws-scale] ${id}: ${summary}`);
      expect(loaded.calls.filter((c) => !isRead(c)).sort(), summary).toEqual(empty.calls.filter((c) => !isRead(c)).sort());
      const a = tally(empty.calls.filter(isRead));
      const b = tally(loaded.calls.filter(isRead));
      for (const kind of new Set([...Object.keys(a), ...Object.keys(b)])) expect(Math.abs((a[kind] ?? 0) - (b[kind] ?? 0)), `${id} ${kind}: ${summary}`).toBeLessThanOrEqual(TIMED_SLACK);
    }
  });
});
