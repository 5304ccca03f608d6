/**
 * The holder of a database grant trying to stretch it, at a real PostgreSQL the test starts: a
 * login without CREATEROLE or ADMIN OPTION is refused every attempt by the server's own 42501 and
 * the grant passes `holder-cannot-extend`; a login with CREATEROLE moves its own VALID UNTIL and
 * creates a login of its own, one with ADMIN OPTION on the grant role makes the requester a member,
 * and both are reported fail, with what they left seen as residue and removed at teardown. An answer
 * that is not the server's refusal is `unknown`. A certificate's holder sets a password on its own
 * role, which logs in without a certificate where pg_hba.conf lets it fall through to a password line.
 *
 * The grant source is a test-only broker creating the login by hand, the way a user's broker
 * would, and handing the point of use's own extension attempts on with the grant.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { bringUp } from '../../adapters/bring-up.ts';
import {
  type Adapter,
  bornCredential,
  type CredentialOf,
  type ExtensionResult,
  type Grant,
  type GrantRecord,
  type GrantSource,
  type PointOfUse,
  type ScenarioContext,
  type StartedTarget,
  type TargetConnection,
} from '../../adapters/contract.ts';
import { connectPostgres, type PgClient, quoteIdent } from '../../adapters/postgres/client.ts';
import { dropRole } from '../../adapters/postgres/fixtures.ts';
import { scenarioName } from '../../adapters/postgres/names.ts';
import { newPassword, scramVerifier } from '../../adapters/postgres/passwords.ts';
import { OPENSSL } from '../../adapters/postgres/tls.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { halfContexts, runScenario } from '../../scenarios/engine.ts';
import { Evidence } from '../../scenarios/evidence.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import type { Scenario } from '../../scenarios/schema.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { testRunId } from '../support/run-id.ts';

const runId = testRunId();
let target: StartedTarget | undefined;
let adapter: Adapter<PgClient>;
let client: PgClient | undefined;
const started = (): StartedTarget => target ?? expect.unreachable('the local PostgreSQL did not start');
const admin = (): PgClient => client ?? expect.unreachable('no admin client');
const sql = async <T extends object>(text: string, values: unknown[] = []): Promise<T[]> => (await admin().admin.query(text, values)).rows as T[];

/** What the test broker gives the login beside its membership: nothing (conformant), or a way to outlast it. */
const rights = z.enum(['none', 'createrole', 'admin-option']);
const brokerParams = z.strictObject({ rights: rights.default('none') });
type BrokerParams = z.infer<typeof brokerParams>;
const LOGIN = 'login';

/**
 * A broker creating the task's login by hand: member of the grant role, VALID UNTIL the window's
 * end, and at the end NOLOGIN, its sessions terminated, dropped. Like any broker that cannot say
 * how its credential may be stretched, it hands on the point of use's own attempts.
 */
const loginByHand: GrantSource<BrokerParams, PgClient> = {
  title: 'A test-only broker creating a PostgreSQL login by hand',
  params: brokerParams,
  issues: ['db-login'],
  needs: ['postgres.grant-role'],
  checks: () => ['reuse-denied', 'holder-cannot-extend'],
  setup: async () => undefined,
  entitlements: async () => [],
  async request(ctx): Promise<Grant> {
    const grantRole = ctx.resource.terms['postgres.grant-role'] ?? '';
    const user = scenarioName(ctx.prefix, LOGIN);
    const password = newPassword();
    const login = bornCredential(ctx.secrets, { type: 'db-login', user, password });
    const issuedAt = new Date();
    const expiresAt = new Date(issuedAt.getTime() + ctx.task.windowSeconds * 1000);
    ctx.state.set(LOGIN, user);
    const createrole = ctx.params.rights === 'createrole' ? ' CREATEROLE' : '';
    await ctx.client.admin.query(`CREATE ROLE ${quoteIdent(user)} LOGIN${createrole} PASSWORD '${scramVerifier(password)}' VALID UNTIL '${expiresAt.toISOString()}'`);
    const adminOption = ctx.params.rights === 'admin-option' ? ' WITH ADMIN OPTION' : '';
    await ctx.client.admin.query(`GRANT ${quoteIdent(grantRole)} TO ${quoteIdent(user)}${adminOption}`);
    const grant: Grant = {
      credentialId: `login ${user}`,
      issuedAt: issuedAt.toISOString(),
      expiresAt: expiresAt.toISOString(),
      ttlRequestedSeconds: ctx.task.windowSeconds,
      ttlGrantedSeconds: ctx.task.windowSeconds,
      scopeGranted: [`member of ${grantRole}`],
      attributes: { rights: ctx.params.rights },
      handles: [{ name: 'database login', check: 'reuse-denied', probe: (node) => ctx.pointOfUse.probe(login, node) }],
      extensions: [],
      credential: login,
    };
    grant.extensions = ctx.pointOfUse.extensions(login, grant);
    return grant;
  },
  async end(ctx, _grant, mode) {
    if (mode !== 'revoke') return;
    const user = ctx.state.get(LOGIN) as string;
    await ctx.client.admin.query(`ALTER ROLE ${quoteIdent(user)} NOLOGIN`);
    await ctx.client.admin.query('SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1', [user]);
    await dropRole(ctx.client, user);
  },
  async teardown(ctx) {
    const user = ctx.state.get(LOGIN) as string | undefined;
    if (!user || (await ctx.client.admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user])).rowCount === 0) return [];
    await dropRole(ctx.client, user);
    return [`role ${user}`];
  },
};

const testBroker: Adapter<PgClient> = {
  name: 'test-db-broker',
  title: 'Test-only database broker',
  products: ['none'],
  targets: {},
  connect: async (connection) => connectPostgres(connection),
  grantSources: { 'login-by-hand': loginByHand },
  pointsOfUse: {},
  pairs: {},
  cleanup: async () => ({ removed: [], failed: [] }),
  leftovers: async () => [],
};

function scenario(id: string, grantRights: z.infer<typeof rights>): Scenario {
  return {
    id,
    title: 'A login from a broker of its own, whose holder tries to outlast it',
    proves: 'the holder of a database login cannot stretch its own grant',
    adapter: 'postgres',
    grant: { adapter: 'test-db-broker', name: 'login-by-hand', params: brokerParams.parse({ rights: grantRights }) },
    use: { adapter: 'postgres', name: 'table-read', params: {} },
    severity: 'high',
    task: { windowSeconds: 5, approver: 'jitc-change-approval', needs: ["read the task's table"] },
    end: { mode: 'revoke' },
    reuse: { deadlineSeconds: 3 },
    source: 'test/unit/postgres-extension.test.ts',
    dir: PROJECT_ROOT,
  };
}

const secrets = new SecretRegistry();
const results: ScenarioResult[] = [];

async function run(s: Scenario): Promise<ScenarioResult> {
  const connection = started().connection;
  const brokerConnection: TargetConnection = { ...connection, adapter: 'test-db-broker' };
  const signal = new AbortController().signal;
  setMaxListeners(0, signal);
  const result = await runScenario(s, {
    runId,
    secrets,
    signal,
    targets: {
      postgres: { adapter: adapter as unknown as Adapter, client: admin(), connection },
      'test-db-broker': { adapter: testBroker as unknown as Adapter, client: admin(), connection: brokerConnection },
    },
  });
  results.push(result);
  return result;
}

const why = (r: ScenarioResult): string => r.checks.map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');
const check = (r: ScenarioResult, name: string): { verdict: string; detail: string } => r.checks.find((c) => c.name === name) ?? expect.unreachable(`no ${name}\n${why(r)}`);

/** A point of use's context for one scenario id, as the engine makes it. */
function pointContext(name: 'table-read' | 'cert-login', id: string, params: unknown): { point: PointOfUse<unknown, PgClient>; ctx: ScenarioContext<unknown, PgClient> } {
  const point = adapter.pointsOfUse[name] ?? expect.unreachable(`no ${name}`);
  const bound = { adapter: adapter as unknown as Adapter, client: admin(), connection: started().connection };
  const { useCtx } = halfContexts(
    {
      id,
      dir: PROJECT_ROOT,
      task: { windowSeconds: 5, approver: 'test', needs: ['read the table'] },
      grant: { adapter: 'postgres', name: 'by hand', params: {} },
      use: { adapter: 'postgres', name, params: point.params.parse(params) },
    },
    { point: point as PointOfUse, pointName: `postgres/${name}`, useTarget: bound, grantTarget: bound },
    { runId, evidence: new Evidence(secrets), secrets, signal: new AbortController().signal, report: () => undefined },
  );
  return { point, ctx: useCtx as ScenarioContext<unknown, PgClient> };
}

function grantRecord(credentialId: string): GrantRecord {
  const issuedAt = new Date();
  return {
    credentialId,
    issuedAt: issuedAt.toISOString(),
    expiresAt: new Date(issuedAt.getTime() + 5000).toISOString(),
    ttlRequestedSeconds: 5,
    ttlGrantedSeconds: 5,
    scopeGranted: [],
    attributes: {},
    handles: [],
    extensions: [],
  };
}

beforeAll(async () => {
  adapter = (await getAdapter('postgres')) as Adapter<PgClient>;
  [target] = await bringUp([adapter as unknown as Adapter], { runId, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
  client = await adapter.connect(started().connection);
});

afterAll(async () => {
  if (client) await adapter.disconnect?.(client);
  await target?.stop();
});

describe.concurrent('the holder of a database login tries to outlast its grant', () => {
  test('a login with no CREATEROLE and no ADMIN OPTION is refused every attempt by 42501, inside the window and after the end, and passes holder-cannot-extend', async () => {
    const result = await run(scenario('pgx-conformant', 'none'));
    expect(result.verdict, why(result)).toBe('pass');
    const extend = check(result, 'holder-cannot-extend');
    expect(extend.verdict).toBe('pass');
    for (const attempt of ["VALID UNTIL to 'infinity'", 'VALID UNTIL far past the window', "requester's own login a member", 'login of its own']) {
      expect(extend.detail).toMatch(new RegExp(`${attempt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^;]*\\(inside-window\\): refused \\(refused to jitc-[^:]+: ERROR 42501 insufficient_privilege`));
    }
    // After the end the login is gone: the server refuses the holder's login itself.
    expect(extend.detail).toMatch(/\(after-end\): refused \(the holder's login as \S+ by password is refused: FATAL 28P01 invalid_password/);
    expect(await sql("SELECT rolname FROM pg_roles WHERE starts_with(rolname, 'jitc-' || $1::text || '-pgx-conformant')", [runId])).toEqual([]);
  });

  test('a login with CREATEROLE moves its own VALID UNTIL, makes the requester a member and creates a login of its own: fail on holder-cannot-extend and no-residue, all of it removed at teardown', async () => {
    const result = await run(scenario('pgx-createrole', 'createrole'));
    expect(result.verdict, why(result)).toBe('fail');
    const extend = check(result, 'holder-cannot-extend');
    expect(extend.verdict, why(result)).toBe('fail');
    expect(extend.detail).toMatch(/set its own VALID UNTIL to 'infinity' \(inside-window\): the holder extended its own grant with no end, past the approval window of 5 s \(the database took VALID UNTIL 'infinity' from \S+ itself: pg_roles now states no end/);
    expect(extend.detail).toMatch(/set its own VALID UNTIL far past the window \(inside-window\): the holder extended its own grant \d+ s past the approval window/);
    expect(extend.detail).toMatch(/pg_roles now makes the requester's own login \S+-requester a member of \S+-reader, with no end/);
    expect(extend.detail).toMatch(/pg_roles now holds login \S+-pgx-createrole-keep, a member of \S+-reader, VALID UNTIL no end/);
    // The login it created still reads after the end: probed like the grant, under the same check.
    expect(extend.detail).toMatch(/login \S+-keep the holder created during the task/);
    const residue = check(result, 'no-residue');
    expect(residue.verdict).toBe('fail');
    expect(residue.detail).toMatch(/login \S+-pgx-createrole-keep is a member of \S+-reader/);
    expect(residue.detail).toMatch(/login \S+-pgx-createrole-requester is a member of \S+-reader/);
    expect(result.teardown.removed).toEqual(expect.arrayContaining([expect.stringMatching(/^role \S+-pgx-createrole-keep$/)]));
    expect(await sql("SELECT rolname FROM pg_roles WHERE starts_with(rolname, 'jitc-' || $1::text || '-pgx-createrole')", [runId])).toEqual([]);
  });

  test('a login with ADMIN OPTION on the grant role makes the requester a member (fail), while VALID UNTIL and CREATE ROLE stay refused', async () => {
    const result = await run(scenario('pgx-admin-option', 'admin-option'));
    expect(result.verdict, why(result)).toBe('fail');
    const extend = check(result, 'holder-cannot-extend');
    expect(extend.verdict).toBe('fail');
    expect(extend.detail).toMatch(/a member of the grant role \(GRANT "[^"]+" TO "[^"]+-requester"\) \(inside-window\): the holder extended its own grant with no end/);
    expect(extend.detail).not.toMatch(/VALID UNTIL/);
    expect(check(result, 'no-residue').detail).toMatch(/login \S+-pgx-admin-option-requester is a member of \S+-reader/);
  });
});

describe('what counts as a refusal', () => {
  test("an answer that is not the server's refusal is unknown: a name already taken (42710), and no server at all", async () => {
    const { point, ctx } = pointContext('table-read', 'pgx-unknown', {});
    const holderName = scenarioName(ctx.prefix, LOGIN);
    const password = newPassword();
    secrets.add(password);
    try {
      await point.setup(ctx);
      await sql(`CREATE ROLE ${quoteIdent(holderName)} LOGIN CREATEROLE PASSWORD '${scramVerifier(password)}'`);
      // The name the holder's new login would take is already there: the server's answer is not about the holder's rights.
      await sql(`CREATE ROLE ${quoteIdent(scenarioName(ctx.prefix, 'keep'))} NOLOGIN`);
      const login: CredentialOf<'db-login'> = { type: 'db-login', user: holderName, password };
      const attempts = point.extensions?.(ctx, login, grantRecord(holderName)) ?? [];
      const keep = attempts.find((a) => a.name.startsWith('create a login of its own')) ?? expect.unreachable('no CREATE ROLE attempt');
      expect(await keep.attempt('inside-window')).toMatchObject({ outcome: 'unknown', detail: expect.stringMatching(/the statement got ERROR 42710\b.*which is not a refusal of the holder/) });

      // The same attempts against a port nothing listens on: no answer, never a refusal.
      const nowhere = connectPostgres({ ...started().connection, settings: { ...started().connection.settings, port: '1' } });
      try {
        const offline: ScenarioContext<unknown, PgClient> = { ...ctx, client: { ...nowhere, admin: admin().admin } };
        const answers: ExtensionResult[] = [];
        for (const attempt of point.extensions?.(offline, login, grantRecord(holderName)) ?? []) answers.push(await attempt.attempt('after-end'));
        expect(answers.length).toBe(4);
        for (const r of answers) expect(r).toMatchObject({ outcome: 'unknown', detail: expect.stringMatching(/got no answer: ECONNREFUSED/) });
      } finally {
        await nowhere.admin.end();
      }
    } finally {
      await dropRole(admin(), holderName).catch(() => undefined);
      expect(await point.teardown(ctx)).toEqual(expect.arrayContaining([`role ${scenarioName(ctx.prefix, 'keep')}`]));
    }
  });

  test("the requester's own login (a membership grant) tries only a login of its own: its VALID UNTIL is not the grant's", async () => {
    const { point, ctx } = pointContext('table-read', 'pgx-requester', {});
    try {
      const resource = await point.setup(ctx);
      const requester = resource.requester as CredentialOf<'db-login'>;
      const attempts = point.extensions?.(ctx, requester, grantRecord(requester.user)) ?? [];
      expect(attempts.map((a) => a.name)).toEqual([expect.stringMatching(/^create a login of its own in the grant role/)]);
      expect(await attempts[0]!.attempt('inside-window')).toMatchObject({ outcome: 'refused', detail: expect.stringMatching(/ERROR 42501 insufficient_privilege: permission denied to create role/) });
    } finally {
      await point.teardown(ctx);
    }
  });
});

describe('the holder of a client certificate', () => {
  /**
   * Whether a non-TLS login of a certificate role from 127.0.0.1 reaches a password line, as the
   * server itself reads pg_hba.conf: its first line for such a login decides (a reject line stops it).
   */
  async function fallsThroughToPassword(): Promise<boolean> {
    const rules = await sql<{ type: string; user_name: string[]; auth_method: string }>('SELECT type, user_name, auth_method FROM pg_hba_file_rules ORDER BY line_number');
    const group = `+${started().connection.settings.certLoginGroup ?? expect.unreachable('no certificate-login group')}`;
    const first = rules.find((r) => (r.type === 'host' || r.type === 'hostnossl') && (r.user_name.includes('all') || r.user_name.includes(group)));
    return first !== undefined && first.auth_method !== 'reject';
  }

  test('sets a password on its own role: extended with no end where pg_hba.conf lets a certificate role fall through to a password line, seen as residue and gone with the role at teardown; refused where a reject line stops it', async () => {
    const { point, ctx } = pointContext('cert-login', 'pgx-cert', { crlRefreshSeconds: null });
    const dir = mkdtempSync(join(tmpdir(), 'jitc-pgx-cert-'));
    try {
      const resource = await point.setup(ctx);
      const user = resource.terms['postgres.cert-user'] ?? expect.unreachable('no certificate role');
      const { caCertFile, caKeyFile } = started().connection.settings;
      // A certificate of the local root itself, naming no CRL distribution point: the root's own CRL, which the server holds, applies.
      execFileSync(OPENSSL, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'req.pem'), '-subj', `/CN=${user}`], { stdio: 'ignore' });
      writeFileSync(join(dir, 'ext'), 'extendedKeyUsage=clientAuth\n');
      execFileSync(OPENSSL, ['x509', '-req', '-in', join(dir, 'req.pem'), '-CA', caCertFile!, '-CAkey', caKeyFile!, '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '1', '-extfile', join(dir, 'ext'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      const credential = bornCredential(secrets, { type: 'tls-client-certificate', subject: `CN=${user}`, serial: '1', certificate: readFileSync(join(dir, 'cert.pem'), 'utf8'), privateKey: readFileSync(join(dir, 'key.pem'), 'utf8') });
      expect((await point.use(ctx, credential)).outcome).toBe('allowed');
      const before = await point.entitlements(ctx);

      const attempts = point.extensions?.(ctx, credential, grantRecord(user)) ?? [];
      expect(attempts.map((a) => a.name)).toEqual(['set a password on its own role, and log in with it without a certificate']);
      const result = await attempts[0]!.attempt('inside-window');
      for (const value of secrets.values()) expect(JSON.stringify(result).includes(value)).toBe(false);
      const after = await point.entitlements(ctx);
      if (await fallsThroughToPassword()) {
        expect(result, result.detail).toMatchObject({ outcome: 'extended', reachesUntil: null, detail: expect.stringMatching(/a login with it and no certificate reads the table/) });
        expect(await result.minted?.[0]?.probe()).toMatchObject({ outcome: 'allowed', detail: expect.stringMatching(/with a password, without a certificate/) });
        expect(after.filter((e) => !before.includes(e))).toEqual([`role ${user} logs in with a password its holder set, without a certificate, and reads ${resource.terms['postgres.table']}`]);
      } else {
        expect(result, result.detail).toMatchObject({ outcome: 'refused', detail: expect.stringMatching(/refuses a password login with it: FATAL 28000 invalid_authorization_specification/) });
        expect(after).toEqual(before);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await point.teardown(ctx);
    }
    expect(await sql("SELECT rolname FROM pg_roles WHERE starts_with(rolname, 'jitc-' || $1::text || '-pgx-cert')", [runId])).toEqual([]);
  });
});

describe('what the runs left', () => {
  test('nothing of the runs above is left on the target, and no secret reached a result', async () => {
    const sweep = await adapter.cleanup(admin(), runId);
    expect(sweep).toEqual({ removed: [], failed: [] });
    expect(results.length).toBe(3);
    const text = JSON.stringify(results);
    expect(secrets.size).toBeGreaterThan(0);
    for (const value of secrets.values()) expect(text.includes(value)).toBe(false);
  });
});
