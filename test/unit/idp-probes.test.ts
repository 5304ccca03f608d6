/** Which answers of Keycloak count as a denial: only its own well-formed introspection or refresh answers. */
import { describe, expect, test } from 'vitest';
import { readIntrospection, readRefresh } from '../../adapters/idp/probes.ts';

describe('an introspection answer', () => {
  test('active true from a well-formed answer is allowed', () => {
    expect(readIntrospection(200, { active: true, exp: 1, client_id: 'task-client' }).outcome).toBe('allowed');
  });

  test('active false from a well-formed answer is denied', () => {
    expect(readIntrospection(200, { active: false }).outcome).toBe('denied');
  });

  test.each([
    ['the resource server itself refused (401 invalid_client)', 401, { error: 'invalid_client', error_description: 'Client authentication failed.' }],
    ['a 403 from a proxy', 403, '<html>Forbidden</html>'],
    ['a server error', 500, { error: 'unknown_error' }],
    ['a 200 with an HTML page', 200, '<html>login</html>'],
    ['a 200 with an empty body', 200, undefined],
    ['a 200 without active', 200, { exp: 1 }],
    ['a 200 with active as a string', 200, { active: 'false' }],
    ['a 200 with active null', 200, { active: null }],
    ['a 200 with a JSON array', 200, [{ active: false }]],
  ])('%s is unknown, never denied', (_name, status, body) => {
    expect(readIntrospection(status, body).outcome).toBe('unknown');
  });
});

describe('a refresh answer', () => {
  test('a new access token is allowed', () => {
    expect(readRefresh(200, { access_token: 'x', expires_in: 3 }).outcome).toBe('allowed');
  });

  test("Keycloak's 400 invalid_grant is denied", () => {
    expect(readRefresh(400, { error: 'invalid_grant', error_description: 'Session not active' }).outcome).toBe('denied');
  });

  test.each([
    ['400 invalid_client', 400, { error: 'invalid_client' }],
    ['401 unauthorized_client', 401, { error: 'unauthorized_client' }],
    ['400 invalid_grant as plain text', 400, 'invalid_grant'],
    ['a 200 without a token', 200, { error: 'x' }],
    ['503 from a gateway', 503, '<html>unavailable</html>'],
  ])('%s is unknown, never denied', (_name, status, body) => {
    expect(readRefresh(status, body).outcome).toBe('unknown');
  });
});
