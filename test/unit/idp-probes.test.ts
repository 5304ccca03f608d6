/** Which answers of Keycloak count as a denial: only its own well-formed introspection or refresh answers. */
import { describe, expect, test } from 'vitest';
import { readIntrospection, readOfflineLogin, readPathLogin, readRefresh } from '../../adapters/idp/probes.ts';

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

/** An unsigned JWT of the given type: only its claims are read, never its signature. */
const refreshOfType = (typ: string): string => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ typ })).toString('base64url')}.x`;

describe('an answer to a login asking offline_access', () => {
  test('an offline refresh token is allowed: the holder got one', () => {
    expect(readOfflineLogin(200, { access_token: 'x', refresh_token: refreshOfType('Offline') }).outcome).toBe('allowed');
  });

  test("Keycloak's 400 invalid_scope is denied", () => {
    expect(readOfflineLogin(400, { error: 'invalid_scope', error_description: 'Invalid scopes: openid offline_access' }).outcome).toBe('denied');
  });

  test('a login whose refresh token is an ordinary one is denied: no offline token was granted', () => {
    expect(readOfflineLogin(200, { access_token: 'x', refresh_token: refreshOfType('Refresh') }).outcome).toBe('denied');
  });

  test.each([
    ['400 invalid_grant', 400, { error: 'invalid_grant' }],
    ['401 unauthorized_client', 401, { error: 'unauthorized_client' }],
    ['400 invalid_scope as plain text', 400, 'invalid_scope'],
    ['a 200 without a refresh token', 200, { access_token: 'x' }],
    ['a 200 whose refresh token is not a JWT', 200, { access_token: 'x', refresh_token: 'opaque' }],
    ['a 200 whose refresh token is of another type', 200, { access_token: 'x', refresh_token: refreshOfType('Bearer') }],
    ['503 from a gateway', 503, '<html>unavailable</html>'],
  ])('%s is unknown, never denied', (_name, status, body) => {
    expect(readOfflineLogin(status, body).outcome).toBe('unknown');
  });
});

describe('a login through a break-glass path', () => {
  const read = readPathLogin(['Only break-glass operators may log in through this client']);

  test('tokens issued are allowed', () => {
    expect(read(200, { access_token: 'x', refresh_token: 'y' }).outcome).toBe('allowed');
  });

  test("Keycloak's 401 with the message the path's Deny access was set up with is denied", () => {
    expect(read(401, { error: 'Only break-glass operators may log in through this client' }).outcome).toBe('denied');
  });

  test("the same message on Keycloak's HTML error page is denied", () => {
    const page = '<main><div id="kc-error-message">\n  <p class="instruction">Only break-glass operators may log in through this client</p>\n</div></main>';
    expect(read(401, page).outcome).toBe('denied');
  });

  test('the OAuth error access_denied is denied', () => {
    expect(read(400, { error: 'access_denied' }).outcome).toBe('denied');
  });

  test.each([
    ['a wrong password (401 invalid_grant): the identity never reached the path', 401, { error: 'invalid_grant', error_description: 'Invalid user credentials' }],
    ['another message than the path was set up with', 401, { error: 'Access denied' }],
    ["the path's message with a 200", 200, { error: 'Only break-glass operators may log in through this client' }],
    ["the path's message with a 500", 500, { error: 'Only break-glass operators may log in through this client' }],
    ['an error page of another message', 401, '<div id="kc-error-message"><p class="instruction">Invalid username or password.</p></div>'],
    ['a 403 from a proxy', 403, '<html>Forbidden</html>'],
    ['a 200 without tokens', 200, { token_type: 'Bearer' }],
    ['an empty body', 401, undefined],
  ])('%s is unknown, never denied', (_name, status, body) => {
    expect(read(status, body).outcome).toBe('unknown');
  });
});
