/**
 * How directory answers become probe outcomes: only LDAP's specific refusals are `denied`;
 * everything else, a refused connection included, is `unknown`. The errors are the ones ldapts
 * raises (a real refused connection for the network case).
 */
import {
  BusyError,
  Client,
  InsufficientAccessError,
  InvalidCredentialsError,
  NoSuchObjectError,
  OperationsError,
  UnwillingToPerformError,
} from 'ldapts';
import { describe, expect, test } from 'vitest';
import { carriesPrefix, escapeFilterValue, scenarioName } from '../../adapters/ldap/client.ts';
import { classifyLdapError } from '../../adapters/ldap/probes.ts';
import { freePort } from '../../adapters/local-process.ts';

describe('classifying a directory answer', () => {
  test('invalidCredentials (49) to a bind is a denial', () => {
    expect(classifyLdapError(new InvalidCredentialsError(), 'bind')).toMatchObject({ outcome: 'denied', detail: 'bind refused: invalidCredentials (49)' });
  });

  test('insufficientAccessRights (50) is a denial whatever the operation', () => {
    for (const context of ['bind', 'read', 'lookup'] as const) {
      expect(classifyLdapError(new InsufficientAccessError(), context).outcome).toBe('denied');
    }
  });

  test('noSuchObject (32) is a denial for a read or lookup of a known entry, not for a bind', () => {
    expect(classifyLdapError(new NoSuchObjectError(), 'read').outcome).toBe('denied');
    expect(classifyLdapError(new NoSuchObjectError(), 'lookup').outcome).toBe('denied');
    expect(classifyLdapError(new NoSuchObjectError(), 'bind').outcome).toBe('unknown');
  });

  test('invalidCredentials outside a bind, and any other result code, are unknown', () => {
    expect(classifyLdapError(new InvalidCredentialsError(), 'read').outcome).toBe('unknown');
    for (const error of [new BusyError(), new UnwillingToPerformError(), new OperationsError()]) {
      const result = classifyLdapError(error, 'read');
      expect(result.outcome).toBe('unknown');
      expect(result.detail).toMatch(/unrecognised answer to a read: \w+ \(\d+\)/);
    }
  });

  test('only the directory\'s own result code counts: an error merely carrying the number 50 is unknown', () => {
    const lookalike = Object.assign(new Error('insufficient access (from a proxy page)'), { code: 50 });
    expect(classifyLdapError(lookalike, 'read').outcome).toBe('unknown');
    expect(classifyLdapError({ code: 49 }, 'bind').outcome).toBe('unknown');
  });

  test('a refused connection is unknown, never a denial', async () => {
    const port = await freePort();
    const client = new Client({ url: `ldap://127.0.0.1:${port}`, connectTimeout: 2000 });
    const error = await client.bind('cn=x', 'y').then(
      () => expect.unreachable('nothing listens there'),
      (e: unknown) => e,
    );
    const result = classifyLdapError(error, 'bind');
    expect(result.outcome).toBe('unknown');
    expect(result.detail).toMatch(/^no answer: ECONNREFUSED/);
  });
});

describe('scenario names', () => {
  test('a scenario prefix never claims the objects of a scenario whose id extends it', () => {
    const dn = `cn=${scenarioName('jitc-r1-audit-trail-twin', 'team')},ou=groups,dc=x`;
    expect(carriesPrefix(dn, 'jitc-r1-audit-trail-twin')).toBe(true);
    expect(carriesPrefix(dn, 'jitc-r1-audit-trail')).toBe(false);
  });

  test('filter values are escaped as RFC 4515 asks', () => {
    expect(escapeFilterValue('a*(b)\\c')).toBe('a\\2a\\28b\\29\\5cc');
  });
});
