/**
 * The external PostgreSQL is described by the config's `postgres:` section and libpq's own
 * variables; what is missing or wrong is one line of bad input before any connection is tried,
 * naming the variable the password should be in, never a value.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { ProvisionOptions } from '../../adapters/contract.ts';
import { connectExternal } from '../../adapters/postgres/external.ts';
import { InputError } from '../../scenarios/input.ts';

const VARIABLES = ['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'PGSSLMODE', 'JITC_TEST_PG_ADMIN'];
let saved: Record<string, string | undefined> = {};

beforeEach(() => {
  saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
  for (const name of VARIABLES) delete process.env[name];
});
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

const options = (config: Record<string, unknown>): ProvisionOptions => ({ runId: 'x', workDir: '/nonexistent', projectRoot: '/nonexistent', config, log: () => undefined });

async function refusal(config: Record<string, unknown>): Promise<string> {
  const error = await connectExternal(options(config)).then(
    () => expect.unreachable('accepted'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  return (error as Error).message;
}

describe('the external postgres section', () => {
  test('a host is needed, from the config or PGHOST, and it must be one TCP host', async () => {
    expect(await refusal({})).toBe('external postgres target: set postgres.host in the config file (or PGHOST)');
    process.env.PGHOST = '/var/run/postgresql';
    expect(await refusal({})).toBe('external postgres target: /var/run/postgresql is not one host name or address (jitc reaches PostgreSQL over TCP)');
  });

  test('the admin user is needed, from the config or PGUSER', async () => {
    expect(await refusal({ host: 'db.example' })).toBe('external postgres target: set postgres.user in the config file (or PGUSER) to an admin login that may CREATE ROLE and CREATE SCHEMA');
  });

  test('the password comes only from the variable named, and the message names that variable', async () => {
    process.env.PGUSER = 'admin';
    expect(await refusal({ host: 'db.example' })).toBe('external postgres target: set PGPASSWORD to the password of admin');
    expect(await refusal({ host: 'db.example', passwordEnv: 'JITC_TEST_PG_ADMIN' })).toBe('external postgres target: set JITC_TEST_PG_ADMIN to the password of admin');
  });

  test('PGPORT and PGSSLMODE are checked before connecting', async () => {
    process.env.PGUSER = 'admin';
    process.env.PGPASSWORD = 'Dd4-not-a-real-password';
    process.env.PGPORT = 'five';
    expect(await refusal({ host: 'db.example' })).toBe('external postgres target: PGPORT=five is not a port number');
    delete process.env.PGPORT;
    process.env.PGSSLMODE = 'verify-ca';
    const message = await refusal({ host: 'db.example' });
    expect(message).toBe('external postgres target: PGSSLMODE=verify-ca is not supported; use disable, prefer, require or verify-full (or postgres.sslmode)');
    expect(message).not.toContain('Dd4-not-a-real-password');
  });

  test('unknown keys and a password in the file are refused by the schema', async () => {
    expect(await refusal({ host: 'db.example', password: 'x' })).toMatch(/^config postgres: password: unknown key "password"/);
    expect(await refusal({ host: 'db.example', sslmode: 'allow' })).toMatch(/^config postgres: sslmode: /);
  });
});
