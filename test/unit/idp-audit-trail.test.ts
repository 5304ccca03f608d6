/**
 * Matching Keycloak's events to a grant (adapters/idp/audit-trail.ts), on records shaped as the
 * local Keycloak 26 wrote them: which record stands for the issue, the use and the end, and that a
 * refusal before the token's exp never stands in for an end whose record is missing.
 */
import { describe, expect, test } from 'vitest';
import { type AdminEvent, judgeEvents, type RealmEvent, settingsGap } from '../../adapters/idp/audit-trail.ts';

const jti = 'onrtro:b400ba43-9833-fd6a-4ba5-4ce1125ecbb9';
const sub = '527a2b0a-2e1c-4d5f-8f82-fd33e1debb10';
const sid = 'F6aVCLb9eRR1HGTIcHj8buW9';
const t0 = 1_800_000_000_000;
const exp = t0 + 5000;
const facts = { token: { jti, sub, sid, exp }, resourceServer: 'resource-server', residueReadAt: t0 + 9000, grantFrom: t0 - 1000 };

const login: RealmEvent = { time: t0, type: 'LOGIN', clientId: 'task-app', userId: sub, sessionId: sid, details: { token_id: jti, grant_type: 'password' } };
const introspected: RealmEvent = { time: t0 + 100, type: 'INTROSPECT_TOKEN', clientId: 'resource-server', userId: sub, sessionId: sid, details: { token_id: jti } };
const refusedAt = (time: number): RealmEvent => ({ time, type: 'INTROSPECT_TOKEN_ERROR', clientId: 'resource-server', sessionId: sid, error: 'user_session_not_found', details: { token_id: jti } });
const logout: AdminEvent = { time: t0 + 200, operationType: 'ACTION', resourceType: 'USER', resourcePath: `users/${sub}/logout` };

describe("a grant's records among a realm's events", () => {
  test('issue, use and an admin logout: nothing missing', () => {
    const judged = judgeEvents([introspected, login, refusedAt(t0 + 300)], [logout], facts);
    expect(judged.missing).toEqual([]);
    expect(judged.found.map((f) => f.event)).toEqual(['LOGIN', 'INTROSPECT_TOKEN', 'ACTION']);
  });

  test('without the end record, a refusal before exp does not stand for it', () => {
    const judged = judgeEvents([login, introspected, refusedAt(t0 + 300)], [], facts);
    expect(judged.missing).toHaveLength(1);
    expect(judged.missing[0]).toMatch(/^end \(no REVOKE_GRANT or LOGOUT/);
  });

  test('a refusal at or after exp stands for an expiry; after the residue read it does not', () => {
    expect(judgeEvents([login, introspected, refusedAt(exp + 50)], [], facts).missing).toEqual([]);
    expect(judgeEvents([login, introspected, refusedAt(facts.residueReadAt + 1)], [], facts).missing[0]).toMatch(/^end/);
  });

  test('an introspection by another client is not the use; a token minted elsewhere is not the issue', () => {
    const other = { ...introspected, clientId: 'other-resource-server' };
    const elsewhere = { ...login, details: { token_id: 'onrtro:another' } };
    const judged = judgeEvents([elsewhere, other], [logout], facts);
    expect(judged.missing.map((m) => m.split(' ')[0])).toEqual(['issue', 'use']);
  });

  test("a role mapped for the grant needs its own removal before the residue read", () => {
    const path = `users/${sub}/role-mappings/clients/3e22ff84`;
    const mapped: AdminEvent = { time: t0 - 10, operationType: 'CREATE', resourcePath: path };
    const standing: AdminEvent = { time: t0 - 5000, operationType: 'CREATE', resourcePath: `users/${sub}/role-mappings/realm` };
    const removed: AdminEvent = { time: t0 + 250, operationType: 'DELETE', resourcePath: path };
    expect(judgeEvents([login, introspected, refusedAt(exp)], [standing, mapped, removed], facts).missing).toEqual([]);
    expect(judgeEvents([login, introspected, refusedAt(exp)], [standing, mapped], facts).missing).toEqual([`end of the role mapping ${path} (no admin event DELETE of it before the residue was read at ${new Date(facts.residueReadAt).toISOString()})`]);
  });

  test('a revocation of the token, or of its session, ends it', () => {
    const revoked: RealmEvent = { time: t0 + 200, type: 'REVOKE_GRANT', clientId: 'task-client', userId: sub, details: { token_id: jti } };
    expect(judgeEvents([login, introspected, revoked], [], facts).found.at(-1)?.name).toBe(`end: REVOKE_GRANT of token ${jti}`);
    const sessionRevoked: RealmEvent = { ...revoked, details: {}, sessionId: sid };
    expect(judgeEvents([login, introspected, sessionRevoked], [], facts).missing).toEqual([]);
  });
});

describe("a realm's event settings", () => {
  const all = ['LOGIN', 'CLIENT_LOGIN', 'TOKEN_EXCHANGE', 'REFRESH_TOKEN', 'INTROSPECT_TOKEN', 'INTROSPECT_TOKEN_ERROR', 'REVOKE_GRANT', 'LOGOUT'];
  test('each gap names its setting', () => {
    expect(settingsGap('r', { eventsEnabled: false, enabledEventTypes: all, adminEventsEnabled: true })).toMatch(/eventsEnabled is off/);
    // Keycloak's default list saves neither introspections nor refreshes.
    expect(settingsGap('r', { eventsEnabled: true, enabledEventTypes: all.filter((t) => !t.startsWith('INTROSPECT') && t !== 'REFRESH_TOKEN'), adminEventsEnabled: true })).toMatch(/types REFRESH_TOKEN, INTROSPECT_TOKEN, INTROSPECT_TOKEN_ERROR \(events\/config enabledEventTypes\)/);
    expect(settingsGap('r', { eventsEnabled: true, enabledEventTypes: all, adminEventsEnabled: false })).toMatch(/adminEventsEnabled/);
    expect(settingsGap('r', { eventsEnabled: true, enabledEventTypes: all, adminEventsEnabled: true })).toBeUndefined();
  });
});
