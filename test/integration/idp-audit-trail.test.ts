/**
 * Keycloak's own record of a grant (`audit-trail`) against the real local Keycloak: a realm jitc
 * makes saves its events and a session's issue, use and end are found there; the same realm without
 * admin events lacks the admin logout that ended the session and fails by name; a realm of the
 * user's own that saves the events needed is judged as it is; one whose events are off, or read with an admin credential without view-events, is never
 * changed and declares the check not evidenced, naming the setting or the permission.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setMaxListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runPrefix, type TargetConnection } from '../../adapters/contract.ts';
import { connectIdp, type IdpClient } from '../../adapters/idp/client.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { readYaml } from '../../scenarios/input.ts';
import { BUILTIN_DIR, toScenario } from '../../scenarios/load.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { type ScenarioTargets, startScenarioTargets } from '../support/scenario-targets.ts';
import { testRunId } from '../support/run-id.ts';

const runId = testRunId();
const secretOf = (): string => randomBytes(18).toString('base64url');
const audit = (r: ScenarioResult | undefined) => r?.checks.find((c) => c.name === 'audit-trail');
const gap = (r: ScenarioResult | undefined) => r?.evidence.find((e) => e.data?.notEvidenced === 'audit-trail');
const summary = (r: ScenarioResult | undefined): string => (r?.checks ?? []).map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');

/** A realm of "the user's own": its two clients, their secrets in variables, its event settings as given. */
async function ownRealm(client: IdpClient, realm: string, events: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = `/${encodeURIComponent(realm)}`;
  await client.admin.call('POST', '', { realm, enabled: true, accessTokenLifespan: 60, ...events });
  const env = { server: `JITC_TEST_${realm.replace(/\W/g, '_').toUpperCase()}_RS`, requester: `JITC_TEST_${realm.replace(/\W/g, '_').toUpperCase()}_REQ` };
  process.env[env.server] = secretOf();
  process.env[env.requester] = secretOf();
  const confidential = { enabled: true, protocol: 'openid-connect', publicClient: false, clientAuthenticatorType: 'client-secret', standardFlowEnabled: false };
  await client.admin.create(`${r}/clients`, { ...confidential, clientId: 'resource-server', secret: process.env[env.server] });
  await client.admin.create(`${r}/clients`, { ...confidential, clientId: 'requester', secret: process.env[env.requester], serviceAccountsEnabled: true });
  return { realm, clientId: 'resource-server', secretEnv: env.server, requesterClientId: 'requester', requesterSecretEnv: env.requester };
}

/** An admin of `realm` itself that may read and make clients there but not read its events. */
async function adminWithoutViewEvents(client: IdpClient, realm: string): Promise<{ username: string; password: string }> {
  const r = `/${encodeURIComponent(realm)}`;
  const username = 'clients-admin';
  const password = secretOf();
  const userId = await client.admin.create(`${r}/users`, { username, enabled: true, email: `${username}@example.invalid`, emailVerified: true, firstName: 'Clients', lastName: 'Admin', credentials: [{ type: 'password', value: password, temporary: false }] });
  const [management] = await client.admin.call<{ id: string }[]>('GET', `${r}/clients?clientId=realm-management`);
  const roles = await Promise.all(['view-clients', 'manage-clients', 'query-clients'].map((name) => client.admin.call<unknown>('GET', `${r}/clients/${management!.id}/roles/${name}`)));
  await client.admin.call('POST', `${r}/users/${userId}/role-mappings/clients/${management!.id}`, roles);
  return { username, password };
}

describe('the identity provider audit trail against the real local Keycloak', () => {
  let up: ScenarioTargets | undefined;
  const results = new Map<string, ScenarioResult>();
  const realms = { on: `${runPrefix(runId)}own-events-on`, off: `${runPrefix(runId)}own-events-off`, noView: `${runPrefix(runId)}own-no-view-events` };
  const saving = { eventsEnabled: true, adminEventsEnabled: true, enabledEventTypes: ['LOGIN', 'CLIENT_LOGIN', 'TOKEN_EXCHANGE', 'REFRESH_TOKEN', 'INTROSPECT_TOKEN', 'INTROSPECT_TOKEN_ERROR', 'REVOKE_GRANT', 'LOGOUT'] };

  beforeAll(async () => {
    const raw = (name: string) => readYaml(join(BUILTIN_DIR, 'idp', `${name}.yaml`)) as Record<string, unknown> & { params: Record<string, unknown>; task: Record<string, unknown> };
    const session = raw('session-logout-revokes');
    const tokens = raw('zero-standing-privilege');
    const complete = await toScenario({ ...session, id: 'trail-complete' }, 'trail-complete.yaml');
    // A 30-second token: no refusal after its exp can stand in for the end the realm did not record.
    const adminEventsOff = await toScenario({ ...session, id: 'trail-admin-events-off', params: { ...session.params, ttlSeconds: 30, adminEvents: false }, task: { ...session.task, windowSeconds: 30 } }, 'trail-admin-events-off.yaml');
    up = await startScenarioTargets('idp', [complete], runId);
    const own = up.own.client as IdpClient;
    const off = await ownRealm(own, realms.off, {});
    const on = await ownRealm(own, realms.on, saving);
    const noView = await ownRealm(own, realms.noView, saving);
    const existing = (id: string, named: Record<string, unknown>) => toScenario({ ...tokens, id, params: { ...tokens.params, existing: named } }, `${id}.yaml`);
    const eventsOn = await existing('trail-own-events-on', on);
    const eventsOff = await existing('trail-own-events-off', off);
    const withoutViewEvents = await existing('trail-own-no-view-events', noView);
    const limited = await adminWithoutViewEvents(own, realms.noView);
    const connection: TargetConnection = { ...up.own.connection, settings: { adminRealm: realms.noView, adminUser: limited.username, adminPassword: limited.password } };
    const limitedTargets = { ...up.targets, idp: { ...up.targets.idp!, client: connectIdp(connection), connection } };
    const secrets = new SecretRegistry();
    const signal = new AbortController().signal;
    setMaxListeners(0, signal);
    const run = await Promise.all([
      ...[complete, adminEventsOff, eventsOn, eventsOff].map((s) => runScenario(s, { runId, targets: up!.targets, signal, secrets })),
      runScenario(withoutViewEvents, { runId, targets: limitedTargets, signal, secrets }),
    ]);
    for (const r of run) results.set(r.id, r);
  }, 240_000);

  afterAll(async () => {
    const own = up?.own.client as IdpClient | undefined;
    if (own) for (const realm of Object.values(realms)) await own.admin.call('DELETE', `/${encodeURIComponent(realm)}`).catch(() => undefined);
    await up?.stop();
  }, 60_000);

  test("a realm jitc makes records the session's login, its introspection and the admin logout that ended it", () => {
    const r = results.get('trail-complete');
    expect(audit(r)?.verdict, summary(r)).toBe('pass');
    expect(audit(r)?.detail).toMatch(/issue: LOGIN of token .*use: INTROSPECT_TOKEN of token .* by resource-server.*end: admin event ACTION users\/[\w-]+\/logout/);
    expect(r?.verdict, summary(r)).toBe('pass');
    expect(gap(r)).toBeUndefined();
  });

  test('a realm that does not save admin events fails audit-trail, naming the missing end', () => {
    const r = results.get('trail-admin-events-off');
    expect(audit(r)?.verdict, summary(r)).toBe('fail');
    expect(audit(r)?.detail).toMatch(/end \(no REVOKE_GRANT or LOGOUT of token .* no admin logout of user/);
    expect(audit(r)?.detail).toMatch(/found issue: LOGIN .*use: INTROSPECT_TOKEN/);
  });

  test("a realm of the user's own that saves the events needed is judged as it is: issue, use and revocation found", async () => {
    const r = results.get('trail-own-events-on');
    expect(audit(r)?.verdict, summary(r)).toBe('pass');
    expect(audit(r)?.detail).toMatch(/issue: CLIENT_LOGIN of token .*use: INTROSPECT_TOKEN .*end: REVOKE_GRANT of token/);
    const config = await (up!.own.client as IdpClient).admin.call<{ enabledEventTypes: string[] }>('GET', `/${encodeURIComponent(realms.on)}/events/config`);
    expect(config.enabledEventTypes.sort()).toEqual([...saving.enabledEventTypes].sort());
  });

  test("a realm of the user's own whose events are off declares the check not evidenced, naming the setting, and is left as it was", async () => {
    const r = results.get('trail-own-events-off');
    expect(audit(r), summary(r)).toBeUndefined();
    expect(gap(r)?.event).toMatch(/eventsEnabled is off/);
    const config = await (up!.own.client as IdpClient).admin.call<{ eventsEnabled: boolean }>('GET', `/${encodeURIComponent(realms.off)}/events/config`);
    expect(config.eventsEnabled).toBe(false);
  });

  test('an admin credential without view-events declares the check not evidenced, naming the permission', () => {
    const r = results.get('trail-own-no-view-events');
    expect(audit(r), summary(r)).toBeUndefined();
    expect(gap(r)?.event).toMatch(/lacks the realm-management role view-events/);
  });
});
