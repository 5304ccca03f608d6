/**
 * Certificate logins against an operator's own PostgreSQL and PKI (`--target external`): the test
 * plays the operator. It starts a PostgreSQL and an OpenBao that outlive the run, mounts its own pki
 * engines as issuing CAs under the root the database trusts, each with a role for jitc's task
 * certificates, and keeps the database's CRL itself — one CA's every second, the other's fetched
 * once and never again. jitc is given only the config a user would write: the server's CA, the
 * certificate-login group, and the existing mounts and roles. It must create nothing on the PKI,
 * pass where the operator's CRL job keeps up, and fail where the database never learns of the
 * revocation.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { PgClient } from '../../adapters/postgres/client.ts';
import { type CrlRefresher, startCrlRefresher } from '../../adapters/postgres/crl.ts';
import type { VaultClient } from '../../adapters/vault/client.ts';
import { signIntermediate } from '../../adapters/vault/grants/pki-certificate.ts';
import { Evidence } from '../../scenarios/evidence.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import { SecretRegistry } from '../../scenarios/secrets.ts';
import type { Summary } from '../../reports/writers/summary.ts';
import { jitcAsync, type CliResult } from '../support/cli.ts';
import { testRunId } from '../support/run-id.ts';
import { type ScenarioTargets, startScenarioTargets } from '../support/scenario-targets.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-pki-external-'));
const PASSWORD_ENV = 'JITC_TEST_PG_PASSWORD';
const ROLE = 'task-certs';
/** The operator's two CAs: one whose CRL it keeps current, one whose CRL it fetched once. */
const KEPT = 'ops-pki';
const STALE = 'ops-pki-stale';

let up: ScenarioTargets | undefined;
const jobs: CrlRefresher[] = [];
const stopJobs = new AbortController();
let result: CliResult;
let summary: Summary;
const roleBefore = new Map<string, unknown>();

const vault = (): VaultClient => (up?.targets.vault?.client as VaultClient | undefined) ?? expect.unreachable('vault did not start');
const pg = (): PgClient => (up?.targets.postgres?.client as PgClient | undefined) ?? expect.unreachable('postgres did not start');

/** An issuing CA of the operator's own under the database's root, with a role for jitc's task certificates. */
async function operatorCa(mount: string): Promise<void> {
  const { api } = vault();
  const { caCertFile, caKeyFile } = pg().settings;
  await api.call('POST', `sys/mounts/${mount}`, { type: 'pki' });
  const csr = await api.call<{ data: { csr: string } }>('POST', `${mount}/intermediate/generate/internal`, { common_name: `${mount} issuing CA`, key_type: 'ec', key_bits: 256 });
  await api.call('POST', `${mount}/intermediate/set-signed`, { certificate: await signIntermediate(csr.data.csr, { certFile: caCertFile ?? '', keyFile: caKeyFile ?? '' }) });
  await api.call('POST', `${mount}/config/urls`, { crl_distribution_points: [`${up!.targets.vault!.connection.address}/v1/${mount}/crl`] });
  await api.call('POST', `${mount}/roles/${ROLE}`, {
    allowed_domains: ['jitc-*'],
    allow_glob_domains: true,
    allow_bare_domains: true,
    allow_subdomains: false,
    enforce_hostnames: false,
    server_flag: false,
    client_flag: true,
    key_type: 'ec',
    key_bits: 256,
    ttl: '60s',
    max_ttl: '60s',
  });
  roleBefore.set(mount, (await api.call<{ data: unknown }>('GET', `${mount}/roles/${ROLE}`)).data);
}

/** The operator's CRL job for one CA: every second, or once. */
async function crlJob(mount: string, periodSeconds: number | null): Promise<void> {
  const url = `${up!.targets.vault!.connection.address}/v1/${mount}/crl`;
  jobs.push(await startCrlRefresher({ url, dir: pg().settings.crlDir ?? '', periodSeconds, evidence: new Evidence(new SecretRegistry()), signal: stopJobs.signal }));
}

/** The built-in pki-cert-revoke, pointed at the operator's mount and role instead of its own. */
async function scenarioFile(id: string, mount: string): Promise<string> {
  const [builtin] = (await loadBuiltinScenarios(['postgres'])).filter((s) => s.id === 'pki-cert-revoke');
  if (!builtin) throw new Error('no built-in pki-cert-revoke');
  const file = join(scratch, `${id}.yaml`);
  writeFileSync(
    file,
    stringify({
      id,
      title: `A certificate from the operator's ${mount} is refused once revoked`,
      proves: 'the database learns of a revocation at its CA from its own CRL job, within the deadline',
      adapter: 'postgres',
      severity: 'critical',
      grant: { adapter: 'vault', source: 'pki-certificate', params: { ttlSeconds: 60, mount, role: ROLE } },
      use: { point: 'cert-login' },
      task: { windowSeconds: 60, needs: ["read the task's table"] },
      end: { mode: 'revoke' },
      reuse: { deadlineSeconds: 5 },
    }),
  );
  return file;
}

beforeAll(async () => {
  const [builtin] = (await loadBuiltinScenarios(['postgres'])).filter((s) => s.id === 'pki-cert-revoke');
  up = await startScenarioTargets('postgres', [builtin!], testRunId());
  await Promise.all([operatorCa(KEPT), operatorCa(STALE)]);
  await Promise.all([crlJob(KEPT, 1), crlJob(STALE, null)]);
  const s = pg().settings;
  const config = join(scratch, 'jitc.yaml');
  writeFileSync(
    config,
    stringify({
      postgres: { host: s.host, port: Number(s.port), database: s.database, user: s.user, passwordEnv: PASSWORD_ENV, certLogin: { serverCaFile: s.caCertFile, group: s.certLoginGroup } },
      vault: { address: up.targets.vault!.connection.address },
    }),
  );
  const files = [await scenarioFile('ops-cert-revoke', KEPT), await scenarioFile('ops-cert-stale-crl', STALE)];
  const out = join(scratch, 'out');
  result = await jitcAsync(['run', '--target', 'external', '--config', config, ...files.flatMap((f) => ['--scenario-file', f]), '--out', out], {
    VAULT_TOKEN: up.targets.vault!.connection.settings.token,
    VAULT_ADDR: '',
    BAO_ADDR: '',
    BAO_TOKEN: '',
    [PASSWORD_ENV]: s.password,
  }).done;
  summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
}, 240_000);

afterAll(async () => {
  stopJobs.abort();
  for (const job of jobs) job.stop();
  await up?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const scenario = (id: string) => summary.scenarios.find((r) => r.id === id) ?? expect.unreachable(`no ${id} in summary.json`);
const why = (id: string): string => scenario(id).checks.map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');

describe("certificate logins against the operator's own PostgreSQL and PKI", () => {
  test('where the operator keeps the CRL current, the revoked certificate is refused within the deadline: pass', () => {
    expect(scenario('ops-cert-revoke').verdict, why('ops-cert-revoke')).toBe('pass');
    const denied = scenario('ops-cert-revoke').checks.find((c) => c.name === 'reuse-denied')?.detail ?? '';
    expect(denied).toMatch(/certificate_revoked \(44\)/);
    console.log(`operator's CRL job every 1 s: ${denied}`);
  });

  test('where the CRL was fetched once and never again, the database keeps taking the revoked certificate: fail', () => {
    const stale = scenario('ops-cert-stale-crl');
    expect(stale.verdict, why('ops-cert-stale-crl')).toBe('fail');
    expect(stale.checks.find((c) => c.name === 'reuse-denied')?.verdict).toBe('fail');
    // The CA itself knows: the certificate is revoked there, only the database does not.
    expect(stale.checks.find((c) => c.name === 'credential-invalidated')?.verdict).toBe('pass');
    expect(result.code, result.stdout + result.stderr).toBe(1);
  });

  test('nothing is mounted or changed on the PKI: the roles are as the operator wrote them, and every task certificate is revoked', async () => {
    const { api } = vault();
    const mounts = Object.keys((await api.call<{ data: Record<string, unknown> }>('GET', 'sys/mounts')).data);
    expect(mounts.filter((m) => m.startsWith('jitc-'))).toEqual([]);
    for (const mount of [KEPT, STALE]) {
      expect((await api.call<{ data: unknown }>('GET', `${mount}/roles/${ROLE}`)).data).toEqual(roleBefore.get(mount));
      const serials = (await api.call<{ data: { keys: string[] } }>('LIST', `${mount}/certs`)).data.keys;
      const tasks = [];
      for (const serial of serials) {
        const record = (await api.call<{ data: { certificate: string; revocation_time: number } }>('GET', `${mount}/cert/${serial}`)).data;
        const cert = new X509Certificate(record.certificate);
        if (!cert.ca) tasks.push({ subject: cert.subject, revoked: record.revocation_time > 0 });
      }
      expect(tasks.length, `${mount}: task certificates`).toBeGreaterThan(0);
      for (const t of tasks) expect(t, mount).toMatchObject({ subject: expect.stringMatching(/^CN=jitc-[a-z0-9]+-ops-cert-[a-z-]+-cert$/), revoked: true });
    }
  });

  test('a certLogin naming a CA file that is not there, or a group the server lacks, is one line and exit 2, with nothing run', async () => {
    const s = pg().settings;
    const env = { VAULT_TOKEN: up!.targets.vault!.connection.settings.token, VAULT_ADDR: '', BAO_ADDR: '', BAO_TOKEN: '', [PASSWORD_ENV]: s.password };
    const postgres = { host: s.host, port: Number(s.port), database: s.database, user: s.user, passwordEnv: PASSWORD_ENV };
    const file = await scenarioFile('ops-cert-bad-input', KEPT);
    for (const [name, certLogin, refusal] of [
      ['no-ca', { serverCaFile: join(scratch, 'absent.pem'), group: s.certLoginGroup }, /postgres\.certLogin\.serverCaFile \S+absent\.pem is not readable \(ENOENT\)/],
      ['no-group', { serverCaFile: s.caCertFile, group: 'no_such_group' }, /postgres\.certLogin\.group no_such_group is not a role on the server/],
    ] as const) {
      const config = join(scratch, `${name}.yaml`);
      writeFileSync(config, stringify({ postgres: { ...postgres, certLogin }, vault: { address: up!.targets.vault!.connection.address } }));
      const out = join(scratch, `out-${name}`);
      const run = await jitcAsync(['run', '--target', 'external', '--config', config, '--scenario-file', file, '--out', out], env).done;
      expect(run.code, run.stdout + run.stderr).toBe(2);
      expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(refusal)]);
      expect(existsSync(join(out, 'summary.json'))).toBe(false);
    }
  });

  test('the certificate roles the run made on the database are gone', async () => {
    const left = await pg().admin.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname LIKE 'jitc-%'");
    expect(left.rows).toEqual([]);
  });
});
