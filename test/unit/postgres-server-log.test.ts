/**
 * PostgreSQL's jsonlog as a login's audit trail: the records kept, and how a login's start, its
 * session's end and its role's removal are found in them — by role name and backend pid, the
 * removal only before the residue marker and only when the server did not refuse it.
 */
import { appendFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { dropsRole, type LogEntry, loginTrailOf, parseLine, ServerLogCursor } from '../../adapters/postgres/server-log.ts';

const line = (fields: Record<string, unknown>): string => JSON.stringify({ timestamp: '2026-01-01 00:00:00.000 UTC', error_severity: 'LOG', ...fields });
const LOGIN = 'v-jitc-r1-db-lease-revoke-abc';

function entries(lines: string[]): LogEntry[] {
  let at = 0;
  return lines.flatMap((l) => {
    const e = parseLine(l, at);
    at += l.length + 1;
    return e && e !== 'other' ? [e] : [];
  });
}

describe('a jsonlog line', () => {
  test('is kept when it starts or ends a session, drops a role, or is a jitc marker; dropped otherwise', () => {
    expect(parseLine(line({ pid: 7, user: LOGIN, message: `connection authorized: user=${LOGIN} database=jitc` }), 0)).toMatchObject({ pid: 7, user: LOGIN });
    expect(parseLine(line({ pid: 7, message: 'disconnection: session time: 0:00:01.000 user=x' }), 0)).toMatchObject({ pid: 7 });
    expect(parseLine(line({ pid: 8, message: `statement: DROP ROLE IF EXISTS "${LOGIN}";` }), 0)).not.toBe('other');
    expect(parseLine(line({ pid: 9, message: 'jitc residue-read jitc-r1-db-lease-revoke 1' }), 0)).not.toBe('other');
    expect(parseLine(line({ pid: 8, message: 'statement: CREATE ROLE "x"' }), 0)).toBe('other');
    expect(parseLine('2026-01-01 00:00:00 UTC [7] LOG:  disconnection: session time', 0)).toBeUndefined();
  });
});

describe('a DROP ROLE statement', () => {
  test.each([
    [`DROP ROLE IF EXISTS "${LOGIN}";`, true],
    [`drop user ${LOGIN}`, true],
    [`ALTER ROLE "${LOGIN}" NOLOGIN; DROP ROLE "other", "${LOGIN}"`, true],
    [`DROP ROLE "${LOGIN}-2"`, false],
    [`REVOKE ALL ON SCHEMA s FROM "${LOGIN}"`, false],
  ])('%s names the login: %s', (statement, expected) => {
    expect(dropsRole(statement, LOGIN)).toBe(expected);
  });
});

describe("a login's trail", () => {
  const login = line({ pid: 100, user: LOGIN, message: `connection authorized: user=${LOGIN} database=jitc application_name=jitc-r1` });
  const end = line({ pid: 100, user: LOGIN, message: `disconnection: session time: 0:00:02.000 user=${LOGIN} database=jitc host=127.0.0.1 port=5000` });
  const drop = line({ pid: 200, user: 'jitc_admin', message: `statement: DROP ROLE IF EXISTS "${LOGIN}";` });
  const mark = line({ pid: 300, user: 'jitc_admin', message: 'jitc residue-read jitc-r1-x 1' });
  const markAt = (lines: string[]): number => entries(lines).find((e) => e.message.startsWith('jitc residue-read'))!.at;

  test('finds the login and the end of the session by its pid, and the removal before the marker', () => {
    const lines = [login, drop, end, mark];
    const trail = loginTrailOf(entries(lines), LOGIN, [100], markAt(lines));
    expect(trail.sessions[0]!.login?.message).toMatch(/^connection authorized/);
    expect(trail.sessions[0]!.end?.message).toMatch(/^disconnection/);
    expect(trail.removal?.pid).toBe(200);
  });

  test("another backend's disconnection is not this session's end", () => {
    const other = line({ pid: 101, user: LOGIN, message: 'disconnection: session time: 0:00:02.000' });
    const lines = [login, other, drop, mark];
    expect(loginTrailOf(entries(lines), LOGIN, [100], markAt(lines)).sessions[0]!.end).toBeUndefined();
  });

  test('a removal logged only after the marker is the harness cleaning up, not the grant ending', () => {
    const lines = [login, end, mark, drop];
    const trail = loginTrailOf(entries(lines), LOGIN, [100], markAt(lines));
    expect(trail.removal).toBeUndefined();
    expect(trail.lateRemoval?.pid).toBe(200);
  });

  test('a DROP ROLE the server refused removed nothing', () => {
    const refused = line({ pid: 200, error_severity: 'ERROR', message: `role "${LOGIN}" cannot be dropped because some objects depend on it`, statement: `DROP ROLE IF EXISTS "${LOGIN}";` });
    const lines = [login, end, drop, refused, mark];
    expect(loginTrailOf(entries(lines), LOGIN, [100], markAt(lines)).removal).toBeUndefined();
  });
});

describe('reading the log file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jitc-pglog-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('starts at the end the file had, keeps a partial line for the next read, and refuses a log that shrank', async () => {
    const file = join(dir, 'server.json');
    writeFileSync(file, `${line({ pid: 1, user: LOGIN, message: 'connection authorized: before the scenario' })}\n`);
    const cursor = await ServerLogCursor.open(file);
    const next = line({ pid: 2, user: LOGIN, message: `connection authorized: user=${LOGIN}` });
    appendFileSync(file, `${next}\n${next.slice(0, 20)}`);
    await cursor.read();
    expect(cursor.entries.map((e) => e.pid)).toEqual([2]);
    appendFileSync(file, `${next.slice(20)}\n`);
    await cursor.read();
    expect(cursor.entries.map((e) => e.pid)).toEqual([2, 2]);
    truncateSync(file, 10);
    await expect(cursor.read()).rejects.toThrow(/shrank below the offset read so far/);
  });

  test('a log that is not there cannot be opened', async () => {
    await expect(ServerLogCursor.open(join(dir, 'absent.json'))).rejects.toThrow(/ENOENT/);
  });
});
