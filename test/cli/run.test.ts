/**
 * `jitc run` end to end, as a user and a pipeline run it: the real CLI against real OpenBao
 * servers. The main job on the embedded local target; an external server whose own audit log
 * lists every secret it issued (none may appear in the output); a non-conformant server (exit 1);
 * a server that dies mid-run (exit 2); Ctrl-C during an expiry wait.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isOurProcess } from '../../adapters/local-process.ts';
import { VaultApi } from '../../adapters/vault/api.ts';
import { listTokens } from '../../adapters/vault/client.ts';
import type { Summary } from '../../reports/writers/summary.ts';
import { startAuditedBao, type AuditedBao } from '../support/audited-bao.ts';
import { jitc, jitcAsync } from '../support/cli.ts';
import { serversOfRun } from '../support/run-servers.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-cli-run-'));

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

function summaryOf(out: string): Summary {
  return JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
}


describe('jitc run on the embedded local OpenBao (the README main job)', () => {
  const out = join(scratch, 'local');
  let result: ReturnType<typeof jitc>;
  beforeAll(() => {
    result = jitc(['run', '--suite', 'vault', '--out', out, '--html']);
  }, 240_000);

  test('exits 0 with every Vault scenario passing', () => {
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const summary = summaryOf(out);
    expect(summary.totals).toEqual({ pass: summary.scenarios.length, fail: 0, inconclusive: 0, waived: 0 });
    expect(summary.scenarios.length).toBeGreaterThanOrEqual(7);
    expect(result.stdout).toMatch(/jitc CONFORMANT: \d+ pass, 0 fail/);
  });

  test('writes allure-results, html/index.html, junit.xml and summary.json', () => {
    for (const entry of ['allure-results', 'html/index.html', 'junit.xml', 'summary.json']) expect(existsSync(join(out, entry)), entry).toBe(true);
    expect(readdirSync(join(out, 'allure-results')).filter((f) => f.endsWith('-result.json')).length).toBe(summaryOf(out).scenarios.length);
    expect(statSync(join(out, 'html/index.html')).size).toBeGreaterThan(500);
    expect(readFileSync(join(out, 'junit.xml'), 'utf8')).toMatch(/<testsuite name="jitc vault" tests="\d+" failures="0" errors="0"/);
  });

  test('leaves no bao process of its own behind', () => {
    const summary = summaryOf(out);
    expect(serversOfRun(summary.runId)).toEqual([]);
    const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
    const baos = pids.filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(PROJECT_ROOT, '.targets')) && readFileSync(`/proc/${pid}/environ`, 'utf8').includes('BAO_DEV_ROOT_TOKEN_ID');
      } catch {
        return false;
      }
    });
    // Other test files may run their own servers; none may carry this run's id.
    for (const pid of baos) expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(summary.runId);
  });

  test('prints the table of scenario, verdict and revocation latency', () => {
    expect(result.stdout).toMatch(/scenario\s+verdict\s+revocation/);
    expect(result.stdout).toMatch(/vault\/token-revoke-at-task-end\s+PASS\s+\d+ ms/);
  });
});

describe('jitc run against an external OpenBao', () => {
  let bao: AuditedBao;
  beforeAll(async () => {
    bao = await startAuditedBao();
  });
  afterAll(async () => {
    await bao.stop();
  });

  test('no token or secret_id the server issued appears in any output file', () => {
    const out = join(scratch, 'external');
    const result = jitc(['run', '--suite', 'vault', '--target', 'external', '--out', out, '--html'], { VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    // Only a Vault is named: the scenario granted through the identity provider is left out, and said so.
    expect(result.stdout + result.stderr).toMatch(/left out, granted through idp, an external target nobody named \(set KEYCLOAK_URL[^)]*\): vault\/federated-into-vault/);
    // What was not run is kept where an auditor reads the run, not only on the terminal.
    const leftOut = summaryOf(out).leftOut ?? [];
    expect(leftOut).toContainEqual({ adapter: 'vault', id: 'federated-into-vault', why: 'granted through idp, an external target nobody named' });
    expect(leftOut.find((l) => l.id === 'break-glass-token')?.why).toMatch(/^a break-glass scenario, left out in a run against external targets/);
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toMatch(/### Not run[\s\S]*`vault\/federated-into-vault`: granted through idp/);
    const merged = jitc(['merge', out, '--out', join(scratch, 'external-merged')]);
    expect(merged.code, merged.stderr).toBe(0);
    expect(summaryOf(join(scratch, 'external-merged')).leftOut).toEqual(leftOut);
    const secrets = bao.issuedSecrets();
    // The root token, and for each scenario at least a requester and a JIT credential.
    expect(secrets.length).toBeGreaterThan(14);
    const files = filesUnder(out);
    expect(files.length).toBeGreaterThan(10);
    const hits: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'latin1');
      for (const secret of secrets) if (text.includes(secret)) hits.push(`${file} holds a secret issued by the target`);
    }
    expect(hits).toEqual([]);
    for (const secret of secrets) expect(result.stdout + result.stderr).not.toContain(secret);
  }, 240_000);

  test('leaves nothing on the target: no token, policy or secret of the run', async () => {
    const summary = summaryOf(join(scratch, 'external'));
    const api = new VaultApi(bao.address, bao.rootToken);
    const tokens = await listTokens(api);
    expect(tokens.filter((t) => t.meta?.jitc_run === summary.runId)).toEqual([]);
    const policies = await api.call<{ data: { keys: string[] } }>('LIST', 'sys/policies/acl');
    expect(policies.data.keys.filter((k) => k.includes(summary.runId))).toEqual([]);
    const sweep = jitc(['cleanup', '--run', summary.runId, '--target', 'external', '--suite', 'vault'], { VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken });
    expect(sweep.code).toBe(0);
    expect(sweep.stdout.trim()).toBe(`nothing left by run ${summary.runId}`);
  });
});

describe('jitc run gates a pipeline by exit code', () => {
  test('a server whose default policy grants the secrets is non-conformant: exit 1', async () => {
    const bao = await startAuditedBao();
    try {
      const api = new VaultApi(bao.address, bao.rootToken);
      const current = await api.call<{ data: { policy: string } }>('GET', 'sys/policies/acl/default');
      await api.call('PUT', 'sys/policies/acl/default', { policy: `${current.data.policy}\npath "secret/data/jitc/*" {\n  capabilities = ["read"]\n}\n` });
      const out = join(scratch, 'standing');
      const result = jitc(['run', '--suite', 'vault', '--target', 'external', '--out', out], { VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken });
      expect(result.code, result.stdout + result.stderr).toBe(1);
      const summary = summaryOf(out);
      expect(summary.totals.fail).toBe(summary.scenarios.length);
      for (const s of summary.scenarios) expect(s.checks.find((c) => c.name === 'zero-standing-privilege')?.verdict).toBe('fail');
      expect(result.stdout).toMatch(/jitc NON-CONFORMANT: 0 pass, \d+ fail/);
      expect(readFileSync(join(out, 'junit.xml'), 'utf8')).toMatch(/<failure type="non-conformant"/);

      // The gate policy decides which failures fail the pipeline; the failures are reported either way.
      const env = { VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken };
      const gated = (...gate: string[]) => jitc(['run', '--suite', 'vault', '--scenario', 'zero-standing-privilege', '--target', 'external', '--out', join(scratch, 'gate'), ...gate], env);
      const tolerant = gated('--fail-on', 'control=NIST-800-53-AC-12');
      expect(tolerant.code, tolerant.stdout).toBe(0);
      expect(tolerant.stdout).toMatch(/gate \(control=NIST-800-53-AC-12\) tolerates: vault\/zero-standing-privilege:zero-standing-privilege/);
      expect(summaryOf(join(scratch, 'gate')).totals.fail).toBe(1);
      expect(gated('--fail-on', 'severity>=critical').code).toBe(1);
      expect(gated('--fail-on', 'check=ttl-bounded', '--fail-on', 'control=OWASP-NHI-05').code).toBe(1);
      const config = join(scratch, 'gate.yaml');
      writeFileSync(config, 'gate:\n  failOn:\n    - check=holder-cannot-extend\n');
      expect(gated('--config', config).code).toBe(0);
      const bad = gated('--fail-on', 'severity>=urgent');
      expect(bad.code).toBe(2);
      expect(bad.stderr.trim()).toBe('jitc: --fail-on: severity "urgent" is not one of critical, high, medium, low');
    } finally {
      await bao.stop();
    }
  }, 240_000);

  test('a server that dies mid-run makes the run inconclusive: exit 2, never a pass', async () => {
    const bao = await startAuditedBao();
    const out = join(scratch, 'dies');
    const run = jitcAsync(['run', '--suite', 'vault', '--target', 'external', '--out', out], { VAULT_ADDR: bao.address, VAULT_TOKEN: bao.rootToken });
    await expect.poll(run.output, { timeout: 60_000, interval: 100 }).toMatch(/waiting: .* to expire/);
    await bao.stop();
    const result = await run.done;
    expect(result.code, result.stdout + result.stderr).toBe(2);
    const summary = summaryOf(out);
    const unfinished = summary.scenarios.filter((s) => s.id === 'token-ttl-expiry' || s.id === 'renewal-capped');
    for (const s of unfinished) expect(s.verdict).toBe('inconclusive');
    expect(summary.totals.inconclusive).toBeGreaterThanOrEqual(2);
  }, 240_000);
});

describe('Ctrl-C during an expiry wait', () => {
  test('revokes what the run created, stops the server it started, exits non-zero; cleanup finds nothing', async () => {
    const out = join(scratch, 'interrupted');
    const run = jitcAsync(['run', '--suite', 'vault', '--out', out]);
    await expect.poll(run.output, { timeout: 120_000, interval: 100 }).toMatch(/waiting: .* to expire/);
    // The scenarios the output shows waiting on an expiry when the signal goes out.
    const waitingIds = [...new Set([...run.output().matchAll(/waiting: vault\/([a-z0-9-]+): .* to expire/g)].map((m) => m[1]!))];
    expect(waitingIds.length).toBeGreaterThan(0);
    const runId = /jitc run ([a-z0-9]+):/.exec(run.output())?.[1];
    expect(runId).toBeDefined();
    // OpenBao, and Keycloak for the scenario federated into it.
    const servers = serversOfRun(runId!);
    expect(servers.length).toBeGreaterThanOrEqual(1);
    run.child.kill('SIGINT');
    const result = await run.done;
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBe(null);
    expect(result.stdout).toMatch(/interrupted by SIGINT/);
    // The server it started is gone, and so is its pid record.
    for (const server of servers) expect(isOurProcess(server)).toBe(false);
    expect(serversOfRun(runId!)).toEqual([]);
    // Scenarios that were waiting were torn down against the live target before it stopped.
    const summary = summaryOf(out);
    const waiting = summary.scenarios.filter((s) => waitingIds.includes(s.id));
    expect(waiting.length).toBe(waitingIds.length);
    for (const s of waiting) {
      expect(s.verdict).toBe('inconclusive');
      expect(s.teardown.errors).toEqual([]);
      expect(s.teardown.removed.some((r) => r.startsWith('token ')), JSON.stringify(s)).toBe(true);
    }
    const sweep = jitc(['cleanup', '--run', runId!]);
    expect(sweep.code).toBe(0);
    expect(sweep.stdout.trim()).toBe(`nothing left by run ${runId}`);
  }, 240_000);
});
