/**
 * Reading OpenBao's file audit log (adapters/vault/audit-log.ts) on lines shaped as the device
 * writes them: only what was appended since the cursor opened, a line still being written left for
 * later; the three records of a token's life; and the lineage of tokens created with known ones.
 */
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { AuditCursor, type AuditEntry, lineageOf, trailOf } from '../../adapters/vault/audit-log.ts';

const SECRET = 'secret/data/jitc/x';
const line = (record: object): string => `${JSON.stringify(record)}\n`;
const issue = (time: string, accessor: string, by: string, policies: string[], ttl = 3): object => ({
  time,
  type: 'response',
  auth: { accessor: by },
  request: { path: 'auth/token/create', operation: 'update', client_token: `hmac-sha256:${by}` },
  response: { auth: { accessor, client_token: `hmac-sha256:tok-${accessor}`, policies, token_ttl: ttl } },
});
const read = (time: string, accessor: string, error = ''): object => ({
  time,
  type: 'request',
  error,
  auth: error ? {} : { accessor },
  request: { path: SECRET, operation: 'read', client_token: `hmac-sha256:tok-${accessor}` },
});
const revoke = (time: string, accessor: string): object => ({
  time,
  type: 'request',
  auth: { accessor: 'admin' },
  request: { path: 'auth/token/revoke-accessor', operation: 'update', data: { accessor: `hmac-sha256:acc-${accessor}` } },
});

async function entriesOf(records: object[]): Promise<readonly AuditEntry[]> {
  const log = join(mkdtempSync(join(tmpdir(), 'jitc-audit-')), 'audit.log');
  writeFileSync(log, line({ time: 't0', type: 'request', request: { path: SECRET } }));
  const cursor = await AuditCursor.open({ log, device: 'jitc' }, SECRET);
  appendFileSync(log, records.map(line).join(''));
  await cursor.read();
  return cursor.entries;
}

const ids = (accessor: string): Set<string> => new Set([accessor, `hmac-sha256:acc-${accessor}`]);
const tokenIds = (accessor: string): Set<string> => new Set([`hmac-sha256:tok-${accessor}`]);

describe('the audit log cursor', () => {
  test('reads only what was appended since it opened, and leaves a half-written line for the next read', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'jitc-audit-')), 'audit.log');
    writeFileSync(log, line(read('2026-01-01T00:00:00Z', 'before')));
    const cursor = await AuditCursor.open({ log, device: 'jitc' }, SECRET);
    const whole = line(read('2026-01-01T00:00:01Z', 'a'));
    appendFileSync(log, whole.slice(0, 20));
    await cursor.read();
    expect(cursor.entries).toEqual([]);
    appendFileSync(log, whole.slice(20) + line({ type: 'request', request: { path: 'sys/health' } }));
    await cursor.read();
    expect(cursor.entries.map((e) => e.accessor)).toEqual(['a']);
  });

  test('scenarios sharing one log each see what was appended after they opened, and their own secret\'s records only', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'jitc-audit-')), 'audit.log');
    const other = 'secret/data/jitc/y';
    const first = await AuditCursor.open({ log, device: 'jitc' }, SECRET);
    appendFileSync(log, line(read('2026-01-01T00:00:01Z', 'a')));
    const second = await AuditCursor.open({ log, device: 'jitc' }, other);
    appendFileSync(log, line(read('2026-01-01T00:00:02Z', 'b')) + line({ ...(read('2026-01-01T00:00:03Z', 'c') as { request: object }), request: { path: other, operation: 'read' } }));
    await Promise.all([first.read(), second.read()]);
    expect(first.entries.map((e) => e.accessor)).toEqual(['a', 'b']);
    expect(second.entries.map((e) => e.accessor)).toEqual(['c']);
    first.close();
    second.close();
  });

  test('a scenario reads token issues and revocations beside its own secret\'s calls in the log\'s order, across reads and another scenario closing', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'jitc-audit-')), 'audit.log');
    const other = 'secret/data/jitc/y';
    const onOther = (time: string, accessor: string): object => ({ ...(read(time, accessor) as { request: object }), request: { path: other, operation: 'read' } });
    writeFileSync(log, '');
    const first = await AuditCursor.open({ log, device: 'jitc' }, SECRET);
    const second = await AuditCursor.open({ log, device: 'jitc' }, other);
    appendFileSync(log, [read('t1', 'a'), issue('t2', 'x', 'admin', ['p']), onOther('t3', 'c'), revoke('t4', 'y'), read('t5', 'b')].map(line).join(''));
    await first.read();
    const seen = (cursor: AuditCursor): string[] => cursor.entries.map((e) => `${e.time} ${e.path}`);
    expect(seen(first)).toEqual([`t1 ${SECRET}`, 't2 auth/token/create', 't4 auth/token/revoke-accessor', `t5 ${SECRET}`]);
    expect(seen(second)).toEqual(['t2 auth/token/create', `t3 ${other}`, 't4 auth/token/revoke-accessor']);
    expect(first.accessorsHmaced).toBe(false);
    second.close();
    appendFileSync(log, [onOther('t6', 'd'), issue('t7', 'hmac-sha256:z', 'hmac-sha256:admin', ['p']), read('t8', 'e')].map(line).join(''));
    await first.read();
    expect(seen(first).slice(4)).toEqual(['t7 auth/token/create', `t8 ${SECRET}`]);
    // The device HMACs accessors: the lineage then needs the known accessors' HMACs.
    expect(first.accessorsHmaced).toBe(true);
    first.close();
  });

  test('a call on an auth path that issues nothing is dropped; one that issues a token is kept with its request, though the response comes in a later read', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'jitc-audit-')), 'audit.log');
    const cursor = await AuditCursor.open({ log, device: 'jitc' }, SECRET);
    const call = (id: string, path: string): { request: object } => ({ request: { id, path, operation: 'update' } });
    const lookup = call('r1', 'auth/token/lookup-accessor');
    const create = call('r2', 'auth/token/create');
    appendFileSync(log, line({ time: 't1', type: 'request', ...lookup }) + line({ time: 't2', type: 'request', ...create }));
    await cursor.read();
    appendFileSync(log, line({ time: 't3', type: 'response', ...lookup, response: { data: { accessor: 'x' } } }) + line({ ...issue('t4', 'g', 'admin', ['p']), ...create }));
    await cursor.read();
    expect(cursor.entries.map((e) => `${e.type} ${e.path} ${e.time}`)).toEqual(['request auth/token/create t2', 'response auth/token/create t4']);
    cursor.close();
  });
});

describe("a token's three records", () => {
  test('issue, use and a revocation naming its accessor are found', async () => {
    const entries = await entriesOf([issue('2026-01-01T00:00:00Z', 'g', 'admin', ['p']), read('2026-01-01T00:00:01Z', 'g'), revoke('2026-01-01T00:00:02Z', 'g')]);
    const trail = trailOf(entries, ids('g'), tokenIds('g'), SECRET, Number.POSITIVE_INFINITY);
    expect([trail.issue?.path, trail.use?.path, trail.revocation?.path]).toEqual(['auth/token/create', SECRET, 'auth/token/revoke-accessor']);
  });

  test('a revocation written after residue was read is the harness\'s teardown, not the end of the grant', async () => {
    const entries = await entriesOf([issue('2026-01-01T00:00:00Z', 'g', 'admin', ['p'], 30), read('2026-01-01T00:00:01Z', 'g'), revoke('2026-01-01T00:00:09Z', 'g')]);
    const teardown = entries.at(-1)!.at;
    const trail = trailOf(entries, ids('g'), tokenIds('g'), SECRET, teardown);
    expect(trail.revocation).toBeUndefined();
    expect(trail.expiry).toBeUndefined();
  });

  test('an expiry writes no record: the first refusal after the stated expiry stands for the end', async () => {
    const entries = await entriesOf([issue('2026-01-01T00:00:00Z', 'g', 'admin', ['p'], 3), read('2026-01-01T00:00:01Z', 'g'), read('2026-01-01T00:00:03.5Z', 'g', 'permission denied')]);
    const trail = trailOf(entries, ids('g'), tokenIds('g'), SECRET, Number.POSITIVE_INFINITY);
    expect(trail.expiry?.expiresAt).toBe('2026-01-01T00:00:03.000Z');
  });

  test('the stated expiry counts from the issuing request: the token exists before its response is written', async () => {
    const request = { time: '2026-01-01T00:00:00Z', type: 'request', auth: { accessor: 'admin' }, request: { id: 'r1', path: 'auth/token/create', operation: 'update' } };
    const response = { ...issue('2026-01-01T00:00:00.4Z', 'g', 'admin', ['p'], 3), request: { id: 'r1', path: 'auth/token/create', operation: 'update' } };
    const entries = await entriesOf([request, response, read('2026-01-01T00:00:01Z', 'g'), read('2026-01-01T00:00:03.2Z', 'g', 'permission denied')]);
    const trail = trailOf(entries, ids('g'), tokenIds('g'), SECRET, Number.POSITIVE_INFINITY);
    expect(trail.expiry?.expiresAt).toBe('2026-01-01T00:00:03.000Z');
  });

  test('Vault counts a TTL from the whole second it created the token in: a refusal within that second of slack is the expiry', async () => {
    const request = { time: '2026-01-01T00:00:00.8Z', type: 'request', auth: { accessor: 'admin' }, request: { id: 'r1', path: 'auth/token/create', operation: 'update' } };
    const response = { ...issue('2026-01-01T00:00:00.9Z', 'g', 'admin', ['p'], 3), request: { id: 'r1', path: 'auth/token/create', operation: 'update' } };
    const entries = await entriesOf([request, response, read('2026-01-01T00:00:01Z', 'g'), read('2026-01-01T00:00:03.3Z', 'g', 'permission denied')]);
    const trail = trailOf(entries, ids('g'), tokenIds('g'), SECRET, Number.POSITIVE_INFINITY);
    expect(trail.expiry?.expiresAt).toBe('2026-01-01T00:00:03.000Z');
    expect(trail.earlyRefusal).toBeUndefined();
  });

  test('a refusal before the stated expiry with no revocation recorded is a missing revocation, not an expiry', async () => {
    const entries = await entriesOf([issue('2026-01-01T00:00:00Z', 'g', 'admin', ['p'], 30), read('2026-01-01T00:00:01Z', 'g'), read('2026-01-01T00:00:02Z', 'g', 'permission denied')]);
    const trail = trailOf(entries, ids('g'), tokenIds('g'), SECRET, Number.POSITIVE_INFINITY);
    expect(trail.expiry).toBeUndefined();
    expect(trail.earlyRefusal?.time).toBe('2026-01-01T00:00:02Z');
  });
});

describe('lineage', () => {
  test('follows tokens created with known ones, transitively, and finds tokens issued carrying the policy', async () => {
    const entries = await entriesOf([
      issue('t1', 'child', 'g', ['p']),
      issue('t2', 'grandchild', 'child', ['other']),
      issue('t3', 'login', 'approle', ['p']),
      issue('t4', 'unrelated', 'admin', ['default']),
      issue('t5', 'hmac-sha256:hidden', 'g', ['p']),
    ]);
    const found = lineageOf(entries, new Set(['g']), 'p');
    expect(found.accessors.sort()).toEqual(['child', 'grandchild', 'login']);
    expect(found.hmacOnly).toEqual(['hmac-sha256:hidden']);
  });
});
