/**
 * Benchmark: how many grants one harness holds at once. N copies of `vault/token-ttl-expiry`
 * (a 3-second token) run concurrently in one process against one local OpenBao, through a relay
 * that counts the requests they make. Run with `npm run bench:overlap`; prints figures, asserts
 * nothing. BENCH_SIZES (default 1,64,200,500) chooses the sizes.
 *
 *   floor = the larger of one copy's run time and (requests the run made ÷ the target's measured
 *           token-creation throughput): the run cannot be faster than the target can answer.
 */
import { readFileSync } from 'node:fs';
import { getAdapter } from '../../adapters/registry.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import type { VaultClient } from '../../adapters/vault/client.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { targetsOf } from '../support/bound.ts';
import { CountingHttpProxy } from './counting-http-proxy.ts';

const SIZES = (process.env.BENCH_SIZES ?? '1,64,200,500').split(',').map(Number);
const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const pct = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
};

/** Peak resident set of a process, MB, from the kernel's own high-water mark. */
function peakRssMb(pid: number | string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

const adapter = await getAdapter('vault');
const [target] = await bringUp([adapter], { runId: 'benchoverlap', projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
if (!target) throw new Error('no vault target');
const proxy = await new CountingHttpProxy(target.connection.address).start();
const connection = { ...target.connection, address: proxy.url };
const client = (await adapter.connect(connection)) as VaultClient;
const base = (await loadBuiltinScenarios(['vault'])).find((x) => x.id === 'token-ttl-expiry')!;
const signal = new AbortController().signal;

/** Token creations per second the target answers, 32 at a time, short-lived so they leave nothing. */
async function tokenThroughput(count = 2000): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next++ < count) await client.api.call('POST', 'auth/token/create', { body: { ttl: '2s', no_default_policy: true, policies: ['default'] } });
    }),
  );
  return count / ((performance.now() - t0) / 1000);
}

interface Row {
  n: number;
  wallMs: number;
  requests: number;
  verdicts: Record<string, number>;
  lag: number[];
  admission: number[];
  reuseLag: number[];
  /** Each check that did not pass, with how often, and one of its details. */
  findings: Map<string, { count: number; detail: string }>;
}

async function copies(n: number): Promise<Row> {
  const before = proxy.requests;
  const t0 = performance.now();
  const results: ScenarioResult[] = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      runScenario({ ...base, id: `${base.id}-${n}-${i}` }, { runId: 'benchoverlap', targets: targetsOf({ adapter, client, connection }), signal }),
    ),
  );
  const wallMs = performance.now() - t0;
  const verdicts: Record<string, number> = {};
  for (const r of results) verdicts[r.verdict] = (verdicts[r.verdict] ?? 0) + 1;
  const findings = new Map<string, { count: number; detail: string }>();
  for (const c of results.flatMap((r) => r.checks.filter((c) => c.verdict !== 'pass'))) {
    const key = `${c.name} ${c.verdict}`;
    const seen = findings.get(key);
    if (seen) seen.count++;
    else findings.set(key, { count: 1, detail: c.detail.slice(0, 240) });
  }
  const lags = (pick: (r: ScenarioResult) => number | null): number[] => results.map(pick).filter((x): x is number => x !== null);
  return {
    n,
    wallMs,
    requests: proxy.requests - before,
    verdicts,
    lag: lags((r) => r.metrics.harnessLag.issueToFirstUseMs),
    admission: lags((r) => r.metrics.harnessLag.admissionWaitMs),
    reuseLag: lags((r) => r.metrics.harnessLag.endToFirstReuseMs),
    findings,
  };
}

const rows: Row[] = [];
for (const n of SIZES) rows.push(await copies(n));
const throughput = await tokenThroughput();
const one = rows.find((r) => r.n === 1)?.wallMs ?? (await copies(1)).wallMs;

console.log(`Overlap: copies of vault/token-ttl-expiry (3 s token) at once, one process, one local OpenBao; token creations ${throughput.toFixed(0)}/s`);
console.log('  copies  wall     floor    ×floor  requests  verdicts                 issue→use p50/p95/max   admission wait p50/max  end→reuse p95');
for (const r of rows) {
  const floor = Math.max(one, (r.requests / throughput) * 1000);
  console.log(
    [
      String(r.n).padStart(6),
      s(r.wallMs).padStart(7),
      s(floor).padStart(7),
      (r.wallMs / floor).toFixed(2).padStart(6),
      String(r.requests).padStart(9),
      Object.entries(r.verdicts).map(([v, c]) => `${c} ${v}`).join(', ').padEnd(24),
      `${pct(r.lag, 50)}/${pct(r.lag, 95)}/${Math.max(0, ...r.lag)} ms`.padStart(22),
      `${pct(r.admission, 50)}/${Math.max(0, ...r.admission)} ms`.padStart(22),
      `${pct(r.reuseLag, 95)} ms`.padStart(14),
    ].join('  '),
  );
}
for (const r of rows) for (const [key, f] of r.findings) console.log(`  at ${r.n}: ${f.count} × ${key}: ${f.detail}`);
console.log(`  peak RSS: harness ${peakRssMb('self').toFixed(0)} MB, OpenBao ${target.pid ? `${peakRssMb(target.pid).toFixed(0)} MB` : 'n/a'}`);
await proxy.stop();
await target.stop();
