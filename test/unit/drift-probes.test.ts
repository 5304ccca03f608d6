/**
 * What counts as a target refusing a credential from another source address: PostgreSQL's 28000
 * from pg_hba.conf alone, and a directory's refusal of the read alone. An answer that says the
 * credential is gone (a wrong password, a refused bind) is not a refusal of the address: unknown.
 */
import { Client, InvalidCredentialsError } from 'ldapts';
import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { bindAndRead } from '../../adapters/ldap/probes.ts';
import { readContextFailure } from '../../adapters/postgres/probes.ts';

function serverError(code: string, message: string, severity = 'FATAL'): pg.DatabaseError {
  const error = new pg.DatabaseError(message, message.length, 'error');
  error.code = code;
  error.severity = severity;
  return error;
}

describe('a PostgreSQL login from another address', () => {
  test('pg_hba.conf rejecting the address (28000) is a denial', () => {
    expect(readContextFailure(serverError('28000', 'pg_hba.conf rejects connection for host "127.0.0.2", user "u", database "d", no encryption'))).toEqual({
      outcome: 'denied',
      detail: 'FATAL 28000 invalid_authorization_specification: pg_hba.conf rejects connection for host "127.0.0.2", user "u", database "d", no encryption',
    });
    expect(readContextFailure(serverError('28000', 'no pg_hba.conf entry for host "127.0.0.2"')).outcome).toBe('denied');
  });

  test('a refused password or a refused read is unknown there: the login or its grant is gone, the address was not refused', () => {
    expect(readContextFailure(serverError('28P01', 'password authentication failed for user "u"'))).toMatchObject({ outcome: 'unknown', detail: expect.stringMatching(/^not a refusal of the address: FATAL 28P01/) });
    expect(readContextFailure(serverError('42501', 'permission denied for table t', 'ERROR')).outcome).toBe('unknown');
  });

  test('no answer from the server is unknown', () => {
    expect(readContextFailure(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })).outcome).toBe('unknown');
  });
});

describe('a directory bind and read from another address', () => {
  /** A client whose bind the directory refuses with invalidCredentials. */
  const refusingBind = (): Client => {
    const client = new Client({ url: 'ldap://127.0.0.1:9' });
    client.bind = async () => {
      throw new InvalidCredentialsError();
    };
    return client;
  };
  const target = { dn: 'cn=protected,dc=x', attribute: 'description' };

  test('a refused bind is unknown there, while it stays a denial for an ordinary probe', async () => {
    expect(await bindAndRead(refusingBind, 'cn=a,dc=x', 'p', target, undefined, 'unknown')).toMatchObject({ outcome: 'unknown', detail: 'bind refused: invalidCredentials (49): not a refusal of the address' });
    expect((await bindAndRead(refusingBind, 'cn=a,dc=x', 'p', target)).outcome).toBe('denied');
  });
});
