/**
 * How PostgreSQL's answers become probe outcomes: only the server's own refusals (28P01, 28000,
 * 42501) are `denied` for a login; a held session is `denied` only when the server ended it.
 * Everything else — a refused or silent connection, a shutdown, a lookalike error — is `unknown`.
 */
import { createServer, type Server } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { clientConfig, parseNode, type PgSettings } from '../../adapters/postgres/client.ts';
import { classifyPgError, classifySessionEnd, loginAndRead, readContextFailure } from '../../adapters/postgres/probes.ts';
import { freePort } from '../../adapters/local-process.ts';

/** An error as node-postgres raises it from the server's ErrorResponse. */
function serverError(code: string, message: string, severity = 'ERROR'): pg.DatabaseError {
  const error = new pg.DatabaseError(message, message.length, 'error');
  error.code = code;
  error.severity = severity;
  return error;
}

describe('classifying an answer to a login and a read', () => {
  test('28P01 (a wrong password, a dropped role, a role past VALID UNTIL) is a denial, with the code and the message', () => {
    expect(classifyPgError(serverError('28P01', 'password authentication failed for user "jitc-r-x-login"', 'FATAL'))).toMatchObject({
      outcome: 'denied',
      detail: 'FATAL 28P01 invalid_password: password authentication failed for user "jitc-r-x-login"',
    });
  });

  test('28000 (not permitted to log in) and 42501 (insufficient privilege) are denials', () => {
    expect(classifyPgError(serverError('28000', 'role "x" is not permitted to log in', 'FATAL'))).toMatchObject({ outcome: 'denied', detail: expect.stringMatching(/^FATAL 28000 invalid_authorization_specification: /) });
    expect(classifyPgError(serverError('42501', 'permission denied for table task_data'))).toMatchObject({ outcome: 'denied', detail: 'ERROR 42501 insufficient_privilege: permission denied for table task_data' });
  });

  test('a shutdown, too many connections, a missing database or table, and any other SQLSTATE are unknown', () => {
    for (const [code, message] of [
      ['57P01', 'terminating connection due to administrator command'],
      ['57P03', 'the database system is starting up'],
      ['53300', 'sorry, too many clients already'],
      ['3D000', 'database "jitc" does not exist'],
      ['42P01', 'relation "x" does not exist'],
      ['XX000', 'internal error'],
    ] as const) {
      const result = classifyPgError(serverError(code, message, 'FATAL'));
      expect(result.outcome, code).toBe('unknown');
      expect(result.detail).toMatch(new RegExp(`^unrecognised answer: FATAL ${code}`));
    }
  });

  test("only the server's own answer counts: an error merely carrying the code 28P01 or 42501 is unknown", () => {
    expect(classifyPgError(Object.assign(new Error('password authentication failed (from a proxy page)'), { code: '28P01' })).outcome).toBe('unknown');
    expect(classifyPgError({ code: '42501' }).outcome).toBe('unknown');
  });

  const settings = (port: number): PgSettings => ({ host: '127.0.0.1', port: String(port), database: 'jitc', user: 'x', password: 'not-a-real-password', sslmode: 'disable' });

  test('a refused connection is unknown, never a denial', async () => {
    const port = await freePort();
    const result = await loginAndRead(new pg.Client(clientConfig(settings(port), 'x', 'not-a-real-password')), 'x', '"s"."t"');
    expect(result).toMatchObject({ outcome: 'unknown', detail: expect.stringMatching(/^no answer: ECONNREFUSED/) });
  });

  let silent: Server | undefined;
  afterAll(() => silent?.close());

  test('a server that accepts the connection and never answers is unknown once the login times out', async () => {
    silent = createServer(() => undefined);
    const port = await new Promise<number>((resolve) => silent?.listen(0, '127.0.0.1', () => resolve((silent?.address() as { port: number }).port)));
    const result = await loginAndRead(new pg.Client({ ...clientConfig(settings(port), 'x', 'not-a-real-password'), connectionTimeoutMillis: 300 }), 'x', '"s"."t"');
    expect(result.outcome).toBe('unknown');
    expect(result.detail).toMatch(/^no answer: /);
  });
});

describe('classifying the end of a held session', () => {
  test('FATAL 57P01 (pg_terminate_backend) ends it: denied', () => {
    expect(classifySessionEnd({ fatal: { code: '57P01', text: 'FATAL 57P01 admin_shutdown: terminating connection due to administrator command' }, transport: null })).toMatchObject({
      outcome: 'denied',
      detail: 'the server ended the session: FATAL 57P01 admin_shutdown: terminating connection due to administrator command',
    });
  });

  test("the server's own session limits end it: denied", () => {
    expect(classifySessionEnd({ fatal: { code: '57P05', text: 'FATAL 57P05 idle_session_timeout' }, transport: null }).outcome).toBe('denied');
    expect(classifySessionEnd({ fatal: { code: '25P03', text: 'FATAL 25P03 idle_in_transaction_session_timeout' }, transport: null }).outcome).toBe('denied');
  });

  test('the server closing the socket without a word ends it: denied', () => {
    expect(classifySessionEnd({ fatal: null, transport: null })).toMatchObject({ outcome: 'denied', detail: "the server closed the session's connection" });
  });

  test('a crash, a reset or a timeout says nothing about the grant: unknown', () => {
    expect(classifySessionEnd({ fatal: { code: '57P02', text: 'FATAL 57P02 crash_shutdown' }, transport: null }).outcome).toBe('unknown');
    expect(classifySessionEnd({ fatal: null, transport: 'ECONNRESET: read ECONNRESET' }).outcome).toBe('unknown');
    expect(classifySessionEnd({ fatal: null, transport: 'ETIMEDOUT' }).outcome).toBe('unknown');
  });
});

describe('a node of reuse.nodes', () => {
  test('is host:port, or [v6]:port', () => {
    expect(parseNode('10.0.0.7:5433')).toEqual({ host: '10.0.0.7', port: 5433 });
    expect(parseNode('replica.db:5432')).toEqual({ host: 'replica.db', port: 5432 });
    expect(parseNode('[::1]:5432')).toEqual({ host: '::1', port: 5432 });
    expect(() => parseNode('replica.db')).toThrow(/is not host:port/);
    expect(() => parseNode('replica.db:99999')).toThrow(/is not host:port/);
  });
});

describe('a login from another source address', () => {
  test('pg_hba.conf rejecting the address (28000) is a denial', () => {
    expect(readContextFailure(serverError('28000', 'pg_hba.conf rejects connection for host "127.0.0.2", user "u", database "d", no encryption', 'FATAL'))).toEqual({
      outcome: 'denied',
      detail: 'FATAL 28000 invalid_authorization_specification: pg_hba.conf rejects connection for host "127.0.0.2", user "u", database "d", no encryption',
    });
    expect(readContextFailure(serverError('28000', 'no pg_hba.conf entry for host "127.0.0.2"', 'FATAL')).outcome).toBe('denied');
  });

  test('a refused password or a refused read is unknown there: the login or its grant is gone, the address was not refused', () => {
    expect(readContextFailure(serverError('28P01', 'password authentication failed for user "u"', 'FATAL'))).toMatchObject({
      outcome: 'unknown',
      detail: expect.stringMatching(/^not a refusal of the address: FATAL 28P01/),
    });
    expect(readContextFailure(serverError('42501', 'permission denied for table t')).outcome).toBe('unknown');
  });

  test('no answer from the server is unknown', () => {
    expect(readContextFailure(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })).outcome).toBe('unknown');
  });
});
