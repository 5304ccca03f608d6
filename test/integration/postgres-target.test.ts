/**
 * The harness's PostgreSQL is its own — a cluster initialised in a temporary directory, run as the
 * unprivileged `postgres` user, listening on 127.0.0.1 only, SCRAM logins and certificate logins
 * over TLS for its certificate group only — and the
 * `table-read` point of use judges a login it is handed by what the server itself answers: a
 * member of the grant role reads, the requester does not, a dropped role is refused a new
 * login, while the session it opened during use keeps running statements until its backend is
 * terminated. Cleanup finds what a killed run left, sessions of dropped roles included.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bringUp } from '../../adapters/bring-up.ts';
import { type Adapter, bornCredential, type PointOfUse, type ScenarioContext, type StartedTarget } from '../../adapters/contract.ts';
import { clientConfig, type PgClient, quoteIdent } from '../../adapters/postgres/client.ts';
import { POSTGRES } from '../../adapters/postgres/cluster.ts';
import { judgeServerLog, openServerLog } from '../../adapters/postgres/audit-trail.ts';
import { trackedSessions } from '../../adapters/postgres/fixtures.ts';
import { scramVerifier } from '../../adapters/postgres/passwords.ts';
import { freePort } from '../../adapters/local-process.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { halfContexts } from '../../scenarios/engine.ts';
import { Evidence } from '../../scenarios/evidence.ts';
import { InputError, PROJECT_ROOT } from '../../scenarios/input.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { testRunId } from '../support/run-id.ts';

let target: StartedTarget | undefined;
let adapter: Adapter<PgClient>;
let client: PgClient | undefined;
let coldStartMs = 0;
const logged: string[] = [];
const started = (): StartedTarget => target ?? expect.unreachable('the local PostgreSQL did not start');
const admin = (): PgClient => client ?? expect.unreachable('no admin client');
const sql = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> => (await admin().admin.query<T>(text, values)).rows;

/** Postmaster's children (checkpointer, walwriter, backends…): they must go with it. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A client logging in as `user` that the test holds itself (never the point's). */
async function holdLogin(user: string, password: string, application: string): Promise<{ session: pg.Client; pid: number }> {
  const session = new pg.Client(clientConfig(admin().settings, user, password, { applicationName: application }));
  session.on('error', () => undefined);
  await session.connect();
  const pid = (await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
  return { session, pid };
}

/** The `table-read` point's context for one scenario id, on `on` (the admin's client unless a test reaches the server another way). */
function tableReadContext(id: string, secrets: SecretRegistry, on: PgClient = admin(), runId = testRunId()): { point: PointOfUse<unknown, PgClient>; ctx: ScenarioContext<unknown, PgClient> } {
  const point = adapter.pointsOfUse['table-read'] ?? expect.unreachable('no table-read');
  const bound = { adapter: adapter as unknown as Adapter, client: on, connection: started().connection };
  const { useCtx } = halfContexts(
    {
      id,
      dir: PROJECT_ROOT,
      task: { windowSeconds: 5, approver: 'test', needs: ['read the table'] },
      grant: { adapter: 'postgres', name: 'by hand', params: {} },
      use: { adapter: 'postgres', name: 'table-read', params: point.params.parse({}) },
    },
    { point: point as PointOfUse, pointName: 'postgres/table-read', useTarget: bound, grantTarget: bound },
    { runId, evidence: new Evidence(secrets), secrets, signal: new AbortController().signal, report: () => undefined },
  );
  return { point, ctx: useCtx as ScenarioContext<unknown, PgClient> };
}

beforeAll(async () => {
  adapter = (await getAdapter('postgres')) as Adapter<PgClient>;
  const t0 = Date.now();
  [target] = await bringUp([adapter as unknown as Adapter], { runId: testRunId(), projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: (line) => logged.push(line) });
  coldStartMs = Date.now() - t0;
  client = await adapter.connect(started().connection);
});

afterAll(async () => {
  if (client) await adapter.disconnect?.(client);
  await target?.stop();
});

describe("the harness's PostgreSQL is its own", () => {
  test('it runs as postgres from a data directory in a temporary directory, on 127.0.0.1 only, with SCRAM logins from the loopback, certificate logins for its certificate group only, and its context-bound group admitted from 127.0.0.1 alone', async () => {
    const { pid } = started();
    expect(logged).toContainEqual(expect.stringMatching(/^postgres: PostgreSQL 15\.\d+ on 127\.0\.0\.1:\d+ \(pid \d+\)$/));
    console.log(`local PostgreSQL cold start (initdb + server + database): ${coldStartMs} ms`);

    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(argv[0]).toBe(POSTGRES);
    const data = argv[argv.indexOf('-D') + 1] ?? '';
    expect(data).toMatch(new RegExp(`^${tmpdir()}/jitc-postgres-[^/]+/data$`));
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    if (process.getuid?.() === 0) expect(uid).toBe(Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()));
    else expect(uid).toBe(process.getuid?.());

    const listening = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes(`pid=${pid},`))
      .map((line) => line.trim().split(/\s+/)[3]);
    expect(listening).toEqual([`127.0.0.1:${started().connection.settings.port}`]);

    expect(await sql('SHOW listen_addresses')).toEqual([{ listen_addresses: '127.0.0.1' }]);
    expect(await sql('SHOW data_directory')).toEqual([{ data_directory: data }]);
    expect(await sql("SELECT current_setting('log_connections') AS c, current_setting('log_disconnections') AS d")).toEqual([{ c: 'on', d: 'on' }]);
    const rules = await sql<{ type: string; database: string[]; user_name: string[]; address: string; auth_method: string }>(
      'SELECT type, database, user_name, address, auth_method FROM pg_hba_file_rules',
    );
    expect(rules).toEqual([
      { type: 'hostssl', database: ['all'], user_name: ['+jitc_cert_login'], address: '127.0.0.1', auth_method: 'cert' },
      { type: 'host', database: ['all'], user_name: ['+jitc_cert_login'], address: 'all', auth_method: 'reject' },
      { type: 'host', database: ['all'], user_name: ['+jitc_context_bound'], address: '127.0.0.1', auth_method: 'scram-sha-256' },
      { type: 'host', database: ['all'], user_name: ['+jitc_context_bound'], address: 'all', auth_method: 'reject' },
      { type: 'host', database: ['all'], user_name: ['all'], address: '127.0.0.0', auth_method: 'scram-sha-256' },
    ]);
    // The admin's password went through a file that initdb read and jitc removed at once.
    expect(readdirSync(dirname(data)).sort()).toEqual(['data', 'log', 'postgres.log', 'socket', 'tls']);
    // Its own trail: logins, disconnections and DDL as jsonlog, in one file the settings name.
    expect(await sql("SELECT current_setting('log_statement') AS s, current_setting('log_destination') AS d, current_setting('logging_collector') AS c")).toEqual([{ s: 'ddl', d: 'jsonlog', c: 'on' }]);
    const serverLog = started().connection.settings.serverLog ?? expect.unreachable('no serverLog setting');
    expect(serverLog).toBe(join(dirname(data), 'log', 'server.json'));
    const records = readFileSync(serverLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { user?: string; message?: string });
    expect(records).toContainEqual(expect.objectContaining({ user: 'jitc_admin', message: expect.stringMatching(/^connection authorized: user=jitc_admin database=/) }));
    expect(started().connection.settings.database).toBe('jitc');
  });

  test('a password the harness hashes itself is the verifier PostgreSQL would store for it', async () => {
    const role = `jitc-${testRunId()}-verifier`;
    await sql(`CREATE ROLE ${quoteIdent(role)} PASSWORD 'Ee5-plain-password'`);
    try {
      const [stored] = await sql<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role]);
      const salt = /^SCRAM-SHA-256\$4096:([^$]+)\$/.exec(stored?.rolpassword ?? '')?.[1] ?? expect.unreachable('not a SCRAM verifier');
      expect(scramVerifier('Ee5-plain-password', Buffer.from(salt, 'base64'))).toBe(stored?.rolpassword);
    } finally {
      await sql(`DROP ROLE ${quoteIdent(role)}`);
    }
  });

  test('the external mode reaches it with the password from the variable the config names, and names only the variable when the login fails', async () => {
    const { settings } = started().connection;
    const external = adapter.targets.external ?? expect.unreachable('no external mode');
    const config = { host: settings.host, port: Number(settings.port), database: settings.database, user: settings.user, passwordEnv: 'JITC_TEST_PG_PASSWORD', sslmode: 'disable' };
    const options = { runId: 'x', workDir: '/nonexistent', projectRoot: PROJECT_ROOT, config, log: () => undefined };
    process.env.JITC_TEST_PG_PASSWORD = settings.password;
    try {
      const connection = await external.connect(options);
      expect(connection).toMatchObject({ adapter: 'postgres', mode: 'external', secretSettings: ['password'], facts: { product: 'PostgreSQL' } });
      // The local target's own TLS (its root CA, CRL directory, certificate group) and its context-bound group are nothing an external one states.
      const { caCertFile: _ca, caKeyFile: _key, crlDir: _crl, certLoginGroup: _group, contextBoundGroup: _bound, serverLog, ...login } = settings;
      expect(connection.settings).toEqual(login);
      // The server's log only where the config names it: then audit-trail reads it.
      expect((await external.connect({ ...options, config: { ...config, serverLog } })).settings.serverLog).toBe(serverLog);
      await expect(external.connect({ ...options, config: { ...config, serverLog: '/nonexistent/server.json' } })).rejects.toThrow(
        /^external postgres target: postgres\.serverLog \/nonexistent\/server\.json is not readable \(ENOENT\)$/,
      );
      expect(adapter.hookEnvironment?.(connection)).toMatchObject({ PGHOST: '127.0.0.1', PGPORT: settings.port, PGDATABASE: 'jitc', PGUSER: 'jitc_admin', PGPASSWORD: settings.password });
      // Without sslmode, libpq's default (prefer) settles on TLS: this server offers it.
      const { sslmode: _, ...preferred } = config;
      expect((await external.connect({ ...options, config: preferred })).settings.sslmode).toBe('require');

      process.env.JITC_TEST_PG_PASSWORD = 'not-the-password';
      const refused = await external.connect(options).then(
        () => expect.unreachable('a wrong password was accepted'),
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(InputError);
      expect((refused as Error).message).toMatch(
        /^external postgres target 127\.0\.0\.1:\d+\/jitc: PostgreSQL refused the login of jitc_admin with the password in JITC_TEST_PG_PASSWORD \(FATAL 28P01 invalid_password: password authentication failed for user "jitc_admin"\)$/,
      );
      expect((refused as Error).message).not.toContain('not-the-password');
      delete process.env.JITC_TEST_PG_PASSWORD;
      await expect(external.connect(options)).rejects.toThrow(/^external postgres target: set JITC_TEST_PG_PASSWORD to the password of jitc_admin$/);
    } finally {
      delete process.env.JITC_TEST_PG_PASSWORD;
    }
  });
});

describe('table-read judges a login by what the server answers', () => {
  const runId = testRunId();
  const secrets = new SecretRegistry();
  const evidence = new Evidence(secrets);
  let point: PointOfUse<unknown, PgClient>;
  let ctx: ScenarioContext<unknown, PgClient>;

  beforeAll(() => {
    ({ point, ctx } = tableReadContext('table-read', secrets, admin(), runId));
  });

  test('a member reads, the requester does not, a dropped role is refused at once while its held session runs on until it is terminated', async () => {
    const resource = await point.setup(ctx);
    let tornDown = false;
    try {
      const grantRole = resource.terms['postgres.grant-role'] ?? '';
      expect(resource.terms).toEqual({ 'postgres.grant-role': `${ctx.prefix}-reader`, 'postgres.table': `"${ctx.prefix}"."task_data"`, 'postgres.database': 'jitc' });
      expect(resource.requester).toMatchObject({ type: 'db-login', user: `${ctx.prefix}-requester` });

      expect(await point.probeStanding(ctx)).toMatchObject({ outcome: 'denied', detail: expect.stringMatching(/^ERROR 42501 insufficient_privilege: permission denied for schema /) });
      expect(await point.entitlements(ctx)).toEqual([]);

      // A login made by hand, as a grant source would: a member of the grant role, nothing else.
      const login = bornCredential(secrets, { type: 'db-login', user: `${ctx.prefix}-login`, password: 'Aa1-hand-made-login-password' });
      await sql(`CREATE ROLE ${quoteIdent(login.user)} LOGIN PASSWORD '${scramVerifier(login.password)}'`);
      await sql(`GRANT ${quoteIdent(grantRole)} TO ${quoteIdent(login.user)}`);
      expect(await point.probe(ctx, login)).toMatchObject({ outcome: 'allowed', detail: `logged in as ${login.user}, read 1 row of "${ctx.prefix}"."task_data"` });
      // A node named by the scenario is where the probe goes; one that does not answer is no denial.
      expect((await point.probe(ctx, login, `127.0.0.1:${started().connection.settings.port}`)).outcome).toBe('allowed');
      expect(await point.probe(ctx, login, `127.0.0.1:${await freePort()}`)).toMatchObject({ outcome: 'unknown', detail: expect.stringMatching(/^no answer: ECONNREFUSED/) });
      expect(await point.entitlements(ctx)).toEqual([`login ${login.user} is a member of ${grantRole}`]);
      const facts = await point.inspect?.(ctx, login);
      expect(facts).toMatchObject({ expiresAt: null, ttlSeconds: null, attributes: { canLogin: true, memberOfGrantRole: true } });

      const used = await point.use(ctx, login);
      expect(used.outcome).toBe('allowed');
      const [held] = used.sessions ?? [];
      expect(held).toMatchObject({ name: 'PostgreSQL session opened during use', check: 'session-ended-with-task', boundToConnection: true });
      const session = held ?? expect.unreachable('no session held');
      const [pid] = trackedSessions(ctx);
      expect(await session.probe()).toMatchObject({ outcome: 'allowed', detail: expect.stringContaining(`on the session held since use (backend pid ${pid}`) });

      await sql(`DROP ROLE ${quoteIdent(login.user)}`);
      expect(await point.probe(ctx, login)).toMatchObject({
        outcome: 'denied',
        detail: `FATAL 28P01 invalid_password: password authentication failed for user "${login.user}"`,
      });
      const stillRunning = await session.probe();
      expect(stillRunning.outcome).toBe('allowed');
      expect(stillRunning.detail).toMatch(
        new RegExp(
          `^the table read is refused \\(ERROR 42501 insufficient_privilege: permission denied for schema ${ctx.prefix}\\), yet the session still runs statements: backend pid ${pid} still answers though current_user fails \\(ERROR 42704 undefined_object: invalid role OID: \\d+\\): the session of a dropped role, left running; pg_stat_activity shows pid ${pid} with usename NULL \\(its role, oid \\d+, no longer exists\\), state (idle|active)$`,
        ),
      );
      expect(await point.entitlements(ctx)).toEqual([`session pid ${pid} opened during use is still connected (its role was dropped)`]);

      expect(await sql('SELECT pg_terminate_backend($1, 5000) AS ended', [pid])).toEqual([{ ended: true }]);
      expect(await session.probe()).toMatchObject({
        outcome: 'denied',
        detail: `the server ended the session: FATAL 57P01 admin_shutdown: terminating connection due to administrator command; its backend (pid ${pid}) no longer runs on the server`,
      });
      // Never reopened: it stays ended.
      expect((await session.probe()).outcome).toBe('denied');
      expect(await point.entitlements(ctx)).toEqual([]);
      await session.close?.();
      expect((await session.probe()).outcome).toBe('unknown');

      // The requester made a standing member: the standing probe must see it.
      await sql(`GRANT ${quoteIdent(grantRole)} TO ${quoteIdent(`${ctx.prefix}-requester`)}`);
      expect((await point.probeStanding(ctx)).outcome).toBe('allowed');
      await sql(`ALTER ROLE ${quoteIdent(`${ctx.prefix}-requester`)} NOLOGIN`);
      expect(await point.probeStanding(ctx)).toMatchObject({ outcome: 'denied', detail: expect.stringMatching(/^FATAL 28000 invalid_authorization_specification: role ".*" is not permitted to log in$/) });

      const removed = await point.teardown(ctx);
      tornDown = true;
      expect(removed).toEqual([`schema ${ctx.prefix} (table "${ctx.prefix}"."task_data")`, `role ${ctx.prefix}-requester`, `role ${ctx.prefix}-reader`]);
      expect(await sql("SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) UNION ALL SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", [ctx.prefix])).toEqual([]);

      const written = JSON.stringify(evidence.events);
      for (const secret of secrets.values()) expect(written).not.toContain(secret);
      expect(secrets.values()).toContain(login.password);
    } finally {
      if (!tornDown) await point.teardown(ctx).catch(() => undefined);
      await sql(`DROP ROLE IF EXISTS ${quoteIdent(`${ctx.prefix}-login`)}`);
    }
  });

  test('a held session whose role only lost its membership reads nothing but runs on until teardown ends it; VALID UNTIL is what inspect states', async () => {
    const resource = await point.setup(ctx);
    const grantRole = resource.terms['postgres.grant-role'] ?? '';
    const login = bornCredential(secrets, { type: 'db-login', user: `${ctx.prefix}-stripped`, password: 'Bb2-hand-made-login-password' });
    await sql(`CREATE ROLE ${quoteIdent(login.user)} LOGIN PASSWORD '${scramVerifier(login.password)}' VALID UNTIL '2999-01-01 00:00:00+00' IN ROLE ${quoteIdent(grantRole)}`);
    let tornDown = false;
    try {
      expect(await point.inspect?.(ctx, login)).toMatchObject({ expiresAt: '2999-01-01T00:00:00.000Z', attributes: { memberOfGrantRole: true } });
      expect(await point.inspect?.(ctx, { ...login, user: `${ctx.prefix}-nobody` })).toBeUndefined();
      const used = await point.use(ctx, login);
      const session = used.sessions?.[0] ?? expect.unreachable('no session held');
      const pid = trackedSessions(ctx).at(-1);
      await sql(`REVOKE ${quoteIdent(grantRole)} FROM ${quoteIdent(login.user)}`);
      expect(await point.probe(ctx, login)).toMatchObject({ outcome: 'denied', detail: expect.stringMatching(/^ERROR 42501 /) });
      expect(await session.probe()).toMatchObject({ outcome: 'allowed', detail: expect.stringContaining(`still answers as ${login.user}: the session of a role that lost the privilege, left running; pg_stat_activity shows pid`) });

      // Teardown ends the session it opened before dropping anything, even one the engine did not close.
      const removed = await point.teardown(ctx);
      tornDown = true;
      expect(removed).toEqual([`session pid ${pid} (role ${login.user}, application ${ctx.prefix})`, `schema ${ctx.prefix} (table "${ctx.prefix}"."task_data")`, `role ${ctx.prefix}-requester`, `role ${ctx.prefix}-reader`]);
      expect(await session.probe()).toMatchObject({ outcome: 'denied', detail: expect.stringContaining('FATAL 57P01') });
      await session.close?.();
    } finally {
      if (!tornDown) await point.teardown(ctx).catch(() => undefined);
      await sql(`DROP ROLE IF EXISTS ${quoteIdent(login.user)}`);
    }
  });
});

describe('cleanup', () => {
  test("removes what a killed run left by its run id — sessions first, a dropped role's session found by its application — as its leftovers listed them", async () => {
    const killed = testRunId();
    const other = testRunId();
    const scenario = `jitc-${killed}-x`;
    const password = 'Cc3-hand-made-login-password';
    await sql(`CREATE SCHEMA ${quoteIdent(scenario)}`);
    await sql(`CREATE TABLE ${quoteIdent(scenario)}.task_data (id integer)`);
    await sql(`CREATE ROLE ${quoteIdent(`${scenario}-reader`)} NOLOGIN`);
    for (const login of [`${scenario}-login`, `${scenario}-gone`, `jitc-${other}-x-requester`]) {
      await sql(`CREATE ROLE ${quoteIdent(login)} LOGIN PASSWORD '${scramVerifier(password)}' IN ROLE ${quoteIdent(`${scenario}-reader`)}`);
    }
    const live = await holdLogin(`${scenario}-login`, password, 'someone else');
    const orphan = await holdLogin(`${scenario}-gone`, password, scenario);
    await sql(`DROP ROLE ${quoteIdent(`${scenario}-gone`)}`);
    try {
      const expected = [
        `session pid ${live.pid} (role ${scenario}-login, application someone else)`,
        `session pid ${orphan.pid} (a dropped role, application ${scenario})`,
        `schema ${scenario}`,
        `role ${scenario}-login`,
        `role ${scenario}-reader`,
      ].sort();
      expect(await adapter.leftovers(admin(), killed)).toEqual(expected);
      const sweep = await adapter.cleanup(admin(), killed);
      expect(sweep.failed).toEqual([]);
      expect([...sweep.removed].sort()).toEqual(expected);
      expect(await adapter.leftovers(admin(), killed)).toEqual([]);
      expect(await adapter.cleanup(admin(), killed)).toEqual({ removed: [], failed: [] });
      expect(await sql("SELECT rolname FROM pg_roles WHERE starts_with(rolname, 'jitc-')")).toEqual([{ rolname: `jitc-${other}-x-requester` }]);
      expect((await adapter.cleanup(admin(), undefined)).removed).toEqual([`role jitc-${other}-x-requester`]);
    } finally {
      await live.session.end().catch(() => undefined);
      await orphan.session.end().catch(() => undefined);
    }
  });
});

describe('a session is ended only when the server no longer runs it', () => {
  test('a connection a pooler in front closes while the backend runs on is unknown, never an ended session', async () => {
    // A relay standing for a pooler: when told, it drops the client's side and keeps the server's open.
    const upstreams: Socket[] = [];
    const downstreams: Socket[] = [];
    const relay = createServer((down) => {
      const up = createConnection({ host: '127.0.0.1', port: Number(started().connection.settings.port) });
      upstreams.push(up);
      downstreams.push(down);
      down.pipe(up);
      up.pipe(down);
      up.on('error', () => undefined);
      down.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const port = (relay.address() as AddressInfo).port;
    const behind = await adapter.connect({ ...started().connection, settings: { ...started().connection.settings, port: String(port) } });
    const secrets = new SecretRegistry();
    const { point, ctx } = tableReadContext('behind-pooler', secrets, behind);
    const resource = await point.setup(ctx);
    try {
      const login = bornCredential(secrets, { type: 'db-login', user: `${ctx.prefix}-login`, password: 'Aa1-hand-made-login-password' });
      await sql(`CREATE ROLE ${quoteIdent(login.user)} LOGIN PASSWORD '${scramVerifier(login.password)}'`);
      await sql(`GRANT ${quoteIdent(resource.terms['postgres.grant-role'] ?? '')} TO ${quoteIdent(login.user)}`);
      const held = (await point.use(ctx, login)).sessions?.[0] ?? expect.unreachable('no session held');
      const [pid] = trackedSessions(ctx);
      expect((await held.probe()).outcome).toBe('allowed');
      // The held session's own pair of sockets: its backend's client port is the relay's upstream port.
      const [row] = await sql<{ client_port: number }>('SELECT client_port FROM pg_stat_activity WHERE pid = $1', [pid]);
      const pair = upstreams.findIndex((up) => up.localPort === row?.client_port);
      expect(pair).toBeGreaterThanOrEqual(0);
      downstreams[pair]?.destroy();
      const probed = await held.probe();
      expect(probed).toMatchObject({ outcome: 'unknown', detail: expect.stringContaining(`yet its backend (pid ${pid}) still runs on the server`) });
      // Once the server's side goes too, the backend exits: then, and only then, the session ended.
      upstreams[pair]?.destroy();
      await expect.poll(async () => (await sql('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).length, { timeout: 5000 }).toBe(0);
      await held.close?.();
    } finally {
      await point.teardown(ctx);
      await adapter.disconnect?.(behind);
      for (const socket of [...downstreams, ...upstreams]) socket.destroy();
      relay.close();
    }
  });
});

describe('a target that names no server log', () => {
  test('declares audit-trail not evidenced, and never reports it', async () => {
    const secrets = new SecretRegistry();
    const { ctx } = tableReadContext('no-server-log', secrets);
    const { serverLog: _log, ...settings } = admin().settings;
    const reported: string[] = [];
    const blind = { ...ctx, client: { ...admin(), settings }, report: (f: { check: string }) => void reported.push(f.check) };
    await openServerLog(blind);
    await judgeServerLog(blind);
    expect(reported).toEqual([]);
    expect(blind.evidence.events).toContainEqual(expect.objectContaining({ event: expect.stringMatching(/^audit-trail not evidenced on this target: no server log is named/), data: { notEvidenced: 'audit-trail' } }));
  });

  test('a named log that is not there is inconclusive, never a pass', async () => {
    const secrets = new SecretRegistry();
    const { ctx } = tableReadContext('absent-server-log', secrets);
    const reported: { check: string; verdict: string; detail: string }[] = [];
    const absent = { ...ctx, client: { ...admin(), settings: { ...admin().settings, serverLog: join(tmpdir(), `jitc-absent-${testRunId()}.json`) } }, report: (f: { check: string; verdict: string; detail: string }) => void reported.push(f) };
    await openServerLog(absent);
    await judgeServerLog(absent);
    expect(reported).toEqual([{ check: 'audit-trail', verdict: 'inconclusive', detail: expect.stringMatching(/^the server log could not be read: ENOENT/) }]);
  });
});

describe('stopping it', () => {
  test('ends the server by its pid, with a session still open, and removes its directory', async () => {
    const pid = started().pid ?? expect.unreachable('no pid recorded');
    const children = childrenOf(pid);
    expect(children.length).toBeGreaterThan(0);
    const data = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).find((a) => a.endsWith('/data')) ?? '';
    const { settings } = started().connection;
    const held = await holdLogin(settings.user ?? '', settings.password ?? '', 'held across the stop');
    await adapter.disconnect?.(admin());
    client = undefined;
    const t0 = Date.now();
    await started().stop();
    // A fast shutdown: a smart one would wait for the held session until the watchdog's KILL at 5 s.
    expect(Date.now() - t0).toBeLessThan(4000);
    await held.session.end().catch(() => undefined);
    for (const p of [pid, ...children, held.pid]) expect(existsSync(`/proc/${p}`), `pid ${p}`).toBe(false);
    expect(existsSync(dirname(data))).toBe(false);
    target = undefined;
  });
});
