/**
 * Faults between jitc and the target: whatever goes wrong with the answers after the grant was used
 * (reset, black hole, slow beyond the probe timeout, garbage, HTTP 503, a 403 a gateway sends
 * without asking Vault), the affected scenario is inconclusive — never a pass —, the run exits 2,
 * and the report names the probe that could not be trusted and why. Afterwards `jitc cleanup`
 * removes what the faulted teardown could not.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Summary } from '../../reports/writers/summary.ts';
import { startAuditedBao } from '../support/audited-bao.ts';
import { jitcAsync } from '../support/cli.ts';
import { FaultProxy, type FaultMode } from '../support/fault-proxy.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-faults-'));

const faults: [FaultMode, RegExp][] = [
  ['reset', /no answer: (ECONNRESET|ECONNREFUSED|socket hang up)/],
  ['blackhole', /no answer: (ECONNABORTED|ETIMEDOUT|timeout)/i],
  ['slow', /no answer: (ECONNABORTED|ETIMEDOUT|timeout)/i],
  ['garbage', /no answer: (HPE_|Parse Error|ECONNRESET)|unrecognised answer/],
  ['http-503', /unrecognised answer: HTTP 503/],
  // A 403 is Vault's denial only with Vault's own error document: a gateway's page is not one.
  ['foreign-403-html', /unrecognised answer: HTTP 403 with a body that is not a Vault error document: "<html>.*: not Vault's own denial/],
  ['foreign-403-empty', /unrecognised answer: HTTP 403 with an empty body \(not a Vault error document\): not Vault's own denial/],
  ['foreign-403-json', /unrecognised answer: HTTP 403 with a body that is not a Vault error document: .*Forbidden.*: not Vault's own denial/],
];

// One fault at a time: the proxies live in this process, and two cores are better spent on one run.
describe('a target that stops answering properly after the grant was used', () => {
  test.each(faults)('%s: the scenario is inconclusive, the run exits 2, the report says why', async (mode, why) => {
    const bao = await startAuditedBao();
    const proxy = new FaultProxy(Number(new URL(bao.address).port));
    const port = await proxy.start();
    const env = { VAULT_ADDR: `http://127.0.0.1:${port}`, VAULT_TOKEN: bao.rootToken };
    const out = join(scratch, mode);
    try {
      const run = jitcAsync(['run', '--suite', 'vault', '--scenario', 'token-ttl-expiry', '--target', 'external', '--out', out], env);
      await expect.poll(run.output, { timeout: 60_000, interval: 50 }).toMatch(/waiting: .* to expire/);
      proxy.setMode(mode);
      const result = await run.done;
      expect(result.code, result.stdout + result.stderr).toBe(2);
      const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
      const scenario = summary.scenarios[0]!;
      expect(scenario.verdict).toBe('inconclusive');
      const reuse = scenario.checks.find((c) => c.name === 'reuse-denied');
      expect(reuse?.verdict).toBe('inconclusive');
      expect(scenario.checks.some((c) => c.verdict === 'pass' && c.name === 'reuse-denied')).toBe(false);
      // The holder's attempts after the end got the same untrustworthy answers: no pass either.
      const extend = scenario.checks.find((c) => c.name === 'holder-cannot-extend');
      expect(extend?.verdict).toBe('inconclusive');
      expect(extend?.detail).toMatch(why);
      // The reuse probes themselves say why: the holder's attempts run alongside them, so even
      // answers that never come do not hold the first probe back past the deadline.
      expect(reuse?.detail).toMatch(/^JIT token: an answer that is not a denial inside the confirmation window, \d+ ms after the end: /);
      expect(reuse?.detail).toMatch(why);

      // Once the target answers again, cleanup removes what the faulted teardown left, by run id.
      // (Spawned asynchronously: the proxy lives in this process and must keep forwarding.)
      proxy.setMode('pass');
      const sweep = await jitcAsync(['cleanup', '--run', summary.runId, '--target', 'external', '--suite', 'vault'], env).done;
      expect(sweep.code, sweep.stdout + sweep.stderr).toBe(0);
      const again = await jitcAsync(['cleanup', '--run', summary.runId, '--target', 'external', '--suite', 'vault'], env).done;
      expect(again.stdout.trim()).toBe(`nothing left by run ${summary.runId}`);
    } finally {
      await proxy.stop();
      await bao.stop();
    }
  }, 180_000);
});
