/**
 * Keycloak's look-up of an object by its admin path (Adapter.lookUp), against the real Keycloak the
 * test session shares: a user is `present` while it exists and `gone` once deleted, from Keycloak's
 * own "not found"; a path of another shape or another target's reference is `unknown`.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { StartedTarget } from '../../adapters/contract.ts';
import type { IdpClient } from '../../adapters/idp/client.ts';
import idpAdapter from '../../adapters/idp/index.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { testRunId } from '../support/run-id.ts';
import { sessionTarget } from '../support/session-targets.ts';

const runId = testRunId();
const realm = `jitc-${runId}-look-up`;
let target: StartedTarget;
let client: IdpClient;

beforeAll(async () => {
  target = (await sessionTarget('idp')) ?? (await bringUp([idpAdapter], { runId, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined }))[0]!;
  client = await idpAdapter.connect(target.connection);
  await client.admin.call('POST', '', { realm, enabled: true });
}, 240_000);

afterAll(async () => {
  await client?.admin.call('DELETE', `/${realm}`).catch(() => undefined);
  await target?.stop();
});

test('a user is present until deleted, then gone; its realm likewise; other shapes are unknown', async () => {
  const lookUp = idpAdapter.lookUp ?? expect.unreachable('the idp adapter has no look-up');
  const id = await client.admin.create(`/${realm}/users`, { username: 'made-by-broker', enabled: true });
  const user = `${realm}/users/${id}`;
  expect((await lookUp(client, user)).state).toBe('present');
  expect((await lookUp(client, `/admin/realms/${user}`)).state).toBe('present');
  await client.admin.call('DELETE', `/${user}`);
  expect(await lookUp(client, user)).toMatchObject({ state: 'gone', detail: expect.stringMatching(/HTTP 404/) });
  expect((await lookUp(client, realm)).state).toBe('present');
  expect((await lookUp(client, `${realm}/users/${id}/sessions`)).state).toBe('unknown');
  expect((await lookUp(client, 'arn:aws:iam::123456789012:role/x')).state).toBe('unknown');
  expect((await lookUp(client, 'arn:aws:iam::123456789012:root')).state).toBe('unknown');
  expect((await lookUp(client, 'cn=made,dc=jitc,dc=test')).state).toBe('unknown');
  await client.admin.call('DELETE', `/${realm}`);
  expect((await lookUp(client, realm)).state).toBe('gone');
}, 60_000);
