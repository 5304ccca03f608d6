/**
 * Client certificates from OpenBao's pki engine at a real PostgreSQL, driven by hand against the
 * real local targets: the cluster serves TLS under a root of its own and admits only its
 * certificate group by certificate; a certificate logs in only if it chains to that root, names the
 * role as its CN and is neither expired nor on a CRL the server holds; a revocation at the CA counts
 * at the database only once the point of use's refresher has fetched the CRL that holds it, and
 * counts then without a reload. Teardown leaves nothing, and no key reaches the evidence.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bornCredential, type Grant, type GrantContext, type GrantSource, type PointOfUse, type ScenarioContext } from '../../adapters/contract.ts';
import type { PgClient } from '../../adapters/postgres/client.ts';
import { makeLocalTls } from '../../adapters/postgres/tls.ts';
import type { VaultClient } from '../../adapters/vault/client.ts';
import { halfContexts } from '../../scenarios/engine.ts';
import { Evidence } from '../../scenarios/evidence.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import { testRunId } from '../support/run-id.ts';
import { type ScenarioTargets, startScenarioTargets } from '../support/scenario-targets.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const runId = testRunId();
const scenario = (await loadBuiltinScenarios(['postgres'])).find((s) => s.id === 'pki-cert-revoke');
if (!scenario) throw new Error('no built-in pki-cert-revoke');

let up: ScenarioTargets | undefined;
let coldStartMs = 0;
const secrets = new SecretRegistry();
const evidence = new Evidence(secrets);
let point: PointOfUse<unknown, PgClient>;
let source: GrantSource<unknown, VaultClient>;
let useCtx: ScenarioContext<unknown, PgClient>;
let grantCtx: GrantContext<unknown, VaultClient>;
let tornDown = false;

const pg = (): PgClient => (up?.targets.postgres?.client as PgClient | undefined) ?? expect.unreachable('postgres did not start');
const vault = (): VaultClient => (up?.targets.vault?.client as VaultClient | undefined) ?? expect.unreachable('vault did not start');
const sql = async <T extends object>(text: string, values: unknown[] = []): Promise<T[]> => (await pg().admin.query(text, values)).rows as T[];

beforeAll(async () => {
  const t0 = Date.now();
  up = await startScenarioTargets('postgres', [scenario], runId);
  coldStartMs = Date.now() - t0;
  const useTarget = up.targets.postgres ?? expect.unreachable('no postgres target');
  const grantTarget = up.targets.vault ?? expect.unreachable('no vault target');
  point = useTarget.adapter.pointsOfUse['cert-login'] as PointOfUse<unknown, PgClient>;
  source = grantTarget.adapter.grantSources['pki-certificate'] as GrantSource<unknown, VaultClient>;
  const contexts = halfContexts(scenario, { point: point as PointOfUse, pointName: 'postgres/cert-login', useTarget, grantTarget }, {
    runId,
    evidence,
    secrets,
    signal: new AbortController().signal,
    report: () => undefined,
  });
  useCtx = contexts.useCtx as ScenarioContext<unknown, PgClient>;
  grantCtx = contexts.grantCtx as GrantContext<unknown, VaultClient>;
}, 120_000);

afterAll(async () => {
  if (!tornDown && up) {
    await source.teardown(grantCtx).catch(() => undefined);
    await point.teardown(useCtx).catch(() => undefined);
  }
  await up?.stop();
});

describe("the local PostgreSQL's TLS is its own", () => {
  test('it serves TLS under its own root, admits only its certificate group by certificate, and reads CRLs from a directory that holds the root\'s own', async () => {
    const { settings } = pg();
    console.log(`local PostgreSQL and OpenBao cold start, TLS material included: ${coldStartMs} ms`);
    const scratch = mkdtempSync(join(tmpdir(), 'jitc-tls-timing-'));
    try {
      const t0 = Date.now();
      await makeLocalTls(scratch, undefined);
      console.log(`TLS material alone (root CA, server certificate, root CRL, by the openssl CLI): ${Date.now() - t0} ms`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }

    expect(await sql("SELECT name, setting FROM pg_settings WHERE name IN ('ssl', 'ssl_ca_file', 'ssl_crl_dir') ORDER BY name")).toEqual([
      { name: 'ssl', setting: 'on' },
      { name: 'ssl_ca_file', setting: settings.caCertFile },
      { name: 'ssl_crl_dir', setting: settings.crlDir },
    ]);
    expect(await sql('SELECT type, user_name, address, auth_method FROM pg_hba_file_rules ORDER BY line_number')).toEqual([
      { type: 'hostssl', user_name: ['+jitc_cert_login'], address: '127.0.0.1', auth_method: 'cert' },
      { type: 'host', user_name: ['+jitc_cert_login'], address: 'all', auth_method: 'reject' },
      { type: 'host', user_name: ['+jitc_context_bound'], address: '127.0.0.1', auth_method: 'scram-sha-256' },
      { type: 'host', user_name: ['+jitc_context_bound'], address: 'all', auth_method: 'reject' },
      { type: 'host', user_name: ['all'], address: '127.0.0.0', auth_method: 'scram-sha-256' },
    ]);
    expect(await sql("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'jitc_cert_login'")).toEqual([{ rolcanlogin: false }]);
    const rootHash = execFileSync('openssl', ['x509', '-in', settings.caCertFile ?? '', '-noout', '-hash'], { encoding: 'utf8' }).trim();
    expect(readdirSync(settings.crlDir ?? '')).toEqual([`${rootHash}.r0`]);
    // The server's certificate is for 127.0.0.1 and chains to the root: a client checking it with that root alone accepts it.
    const served = execFileSync('openssl', ['s_client', '-starttls', 'postgres', '-connect', `127.0.0.1:${settings.port}`, '-CAfile', settings.caCertFile ?? '', '-verify_ip', '127.0.0.1', '-verify_return_error'], {
      input: '',
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    expect(served).toMatch(/Verify return code: 0 \(ok\)/);
  });
});

describe('a certificate from the pki engine at the database', () => {
  let grant: Grant;

  test('the role a certificate logs in as has no password and no way in without a certificate from the trusted root', async () => {
    grantCtx.resource = await point.setup(useCtx);
    await source.setup(grantCtx);
    const user = grantCtx.resource.terms['postgres.cert-user'] ?? '';
    expect(user).toBe(`jitc-${runId}-pki-cert-revoke-cert`);
    expect(await sql('SELECT rolcanlogin, rolpassword IS NULL AS no_password FROM pg_authid WHERE rolname = $1', [user])).toEqual([{ rolcanlogin: true, no_password: true }]);
    const standing = await point.probeStanding(useCtx);
    expect(standing.outcome).toBe('denied');
    expect(standing.detail.split('; ')).toEqual([
      expect.stringMatching(/^ERROR 42501 insufficient_privilege: permission denied for schema /),
      expect.stringMatching(new RegExp(`^FATAL 28000 invalid_authorization_specification: pg_hba.conf rejects connection for host "127.0.0.1", user "${user}", database "[^"]+", no encryption$`)),
      "TLS alert unknown_ca (48) from the server: it does not trust the certificate's issuer, or holds no CRL for a CA on its chain",
    ]);
    // The engine's role issues for that one CN and nothing else.
    const mount = `jitc-${runId}-pki-cert-revoke-pki`;
    await expect(vault().api.call('POST', `${mount}/issue/task`, { common_name: 'jitc_admin', ttl: '10s' })).rejects.toThrow(/HTTP 400 common name jitc_admin not allowed by this role/);
  });

  test('the certificate logs in, and its CA\'s CRL is fetched into the server\'s CRL directory the first time it is used', async () => {
    grant = await source.request(grantCtx);
    expect(grant).toMatchObject({ ttlRequestedSeconds: 60, ttlGrantedSeconds: expect.any(Number), handles: [{ check: 'reuse-denied' }, { check: 'credential-invalidated' }] });
    expect(grant.ttlGrantedSeconds).toBeLessThanOrEqual(30);
    const used = await point.use(useCtx, grant.credential);
    expect(used).toMatchObject({ outcome: 'allowed', detail: expect.stringMatching(/^logged in as jitc-\w+-pki-cert-revoke-cert by certificate serial [0-9A-F]+ \(CN jitc-\w+-pki-cert-revoke-cert\), read 1 row of /) });
    expect(used.sessions).toBeUndefined();
    expect(readdirSync(pg().settings.crlDir ?? '')).toHaveLength(2);
    expect(evidence.events.map((e) => e.event)).toContain('CRL fetched at the point of use; refreshed every 2 s');
    expect(await grant.handles[1]?.probe()).toMatchObject({ outcome: 'allowed', detail: expect.stringMatching(/^the CA holds it unrevoked, valid until /) });
    expect(await source.entitlements(grantCtx)).toEqual([expect.stringMatching(/^certificate serial [0-9a-f:]+ \(CN=jitc-\w+-pki-cert-revoke-cert\) unrevoked at /)]);
  });

  test('a certificate from the trusted root for another CN is refused by the server (28000); one past its notAfter with certificate expired', async () => {
    const { settings } = pg();
    const dir = mkdtempSync(join(tmpdir(), 'jitc-pki-int-'));
    try {
      execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k'), '-out', join(dir, 'csr'), '-subj', '/CN=someone-else'], { stdio: 'ignore' });
      writeFileSync(join(dir, 'ext'), 'extendedKeyUsage=clientAuth\n');
      execFileSync('openssl', ['x509', '-req', '-in', join(dir, 'csr'), '-CA', settings.caCertFile ?? '', '-CAkey', settings.caKeyFile ?? '', '-set_serial', '0x1f', '-days', '1', '-extfile', join(dir, 'ext'), '-out', join(dir, 'c')], { stdio: 'ignore' });
      const other = bornCredential(secrets, { type: 'tls-client-certificate', subject: 'CN=someone-else', serial: '1f', certificate: readFileSync(join(dir, 'c'), 'utf8'), privateKey: readFileSync(join(dir, 'k'), 'utf8') });
      expect(await point.probe(useCtx, other)).toMatchObject({ outcome: 'denied', detail: expect.stringMatching(/^FATAL 28000 invalid_authorization_specification: certificate authentication failed for user "jitc-/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Issued by the scenario's own CA for 1 s: refused by the server once its notAfter has passed.
    const mount = `jitc-${runId}-pki-cert-revoke-pki`;
    const brief = await vault().api.call<{ data: { certificate: string; issuing_ca: string; private_key: string; serial_number: string } }>('POST', `${mount}/issue/task`, {
      common_name: grantCtx.resource.terms['postgres.cert-user'],
      ttl: '1s',
      exclude_cn_from_sans: true,
    });
    const short = bornCredential(secrets, { type: 'tls-client-certificate', subject: 'CN=x', serial: brief.data.serial_number, certificate: `${brief.data.certificate}\n${brief.data.issuing_ca}`, privateKey: brief.data.private_key });
    await sleep(2000);
    expect(await point.probe(useCtx, short)).toMatchObject({ outcome: 'denied', detail: expect.stringMatching(/^TLS alert certificate_expired \(45\) from the server/) });
  });

  test('revoked at the CA, the certificate keeps logging in until the refresher fetches the CRL that holds it, then is refused without a reload', async () => {
    const reloadsBefore = (await sql<{ loaded: Date }>('SELECT pg_conf_load_time() AS loaded'))[0]?.loaded.getTime();
    const revokedAt = Date.now();
    await source.end(grantCtx, grant, 'revoke');
    expect(await grant.handles[1]?.probe()).toMatchObject({ outcome: 'denied', detail: expect.stringMatching(/^revoked at the CA at /) });
    // Right after the revoke the server's CRL is the one fetched at use: the revocation does not count yet.
    expect((await point.probe(useCtx, grant.credential)).outcome).toBe('allowed');
    let refused: number | undefined;
    while (Date.now() - revokedAt < 6000) {
      const answer = await point.probe(useCtx, grant.credential);
      if (answer.outcome === 'denied') {
        expect(answer.detail).toBe('TLS alert certificate_revoked (44) from the server: the certificate is on a CRL it holds');
        refused = Date.now();
        break;
      }
      expect(answer.outcome).toBe('allowed');
      await sleep(100);
    }
    expect(refused, 'refused within one refresh period and a little').toBeDefined();
    console.log(`revoke at the CA -> first refusal at PostgreSQL: ${(refused ?? 0) - revokedAt} ms (CRL refreshed every 2 s)`);
    const refresh = evidence.events.find((e) => e.event === 'CRL refreshed at the point of use' && (e.data as { revoked?: number } | undefined)?.revoked === 1);
    expect(refresh?.data).toMatchObject({ issuerHash: expect.stringMatching(/^[0-9a-f]{8}$/), crlNumber: expect.any(Number), revoked: 1 });
    expect((await sql<{ loaded: Date }>('SELECT pg_conf_load_time() AS loaded'))[0]?.loaded.getTime()).toBe(reloadsBefore);
    expect(await source.entitlements(grantCtx)).toEqual([]);
  });

  test('teardown stops the refresher and removes the CRL it wrote, the roles and the mount; no key reaches the evidence', async () => {
    const removed = [...(await source.teardown(grantCtx)), ...(await point.teardown(useCtx))];
    tornDown = true;
    expect(removed).toEqual([
      `pki mount jitc-${runId}-pki-cert-revoke-pki`,
      expect.stringMatching(/^CRL file .*\/tls\/crl\/[0-9a-f]{8}\.r0 \(issuer hash [0-9a-f]{8}\)$/),
      `schema jitc-${runId}-pki-cert-revoke (table "jitc-${runId}-pki-cert-revoke"."task_data")`,
      `role jitc-${runId}-pki-cert-revoke-requester`,
      `role jitc-${runId}-pki-cert-revoke-reader`,
      `role jitc-${runId}-pki-cert-revoke-cert`,
    ]);
    expect(readdirSync(pg().settings.crlDir ?? '')).toHaveLength(1);
    const refreshes = evidence.events.filter((e) => e.event.startsWith('CRL refreshed')).length;
    await sleep(2500);
    expect(evidence.events.filter((e) => e.event.startsWith('CRL refreshed')).length).toBe(refreshes);
    const written = JSON.stringify(evidence.events);
    expect(secrets.values().some((s) => s.includes('PRIVATE KEY'))).toBe(true);
    for (const secret of secrets.values()) expect(written).not.toContain(secret);
    expect(written).not.toMatch(/PRIVATE KEY/);
    expect(existsSync(pg().settings.caKeyFile ?? '')).toBe(true);
  });
});
