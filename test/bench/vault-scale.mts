/**
 * Benchmark: run time and requests of `token-revoke-at-task-end` on an empty local OpenBao and on
 * one holding 3,000 unrelated tokens, the requests counted by a relay in front of it. A scenario
 * reads residue from its grant's lineage, so the two should be close (target: within 1.3×) and
 * the requests the same but for polls that follow latency. Run with `npm run bench`; prints
 * figures, asserts nothing.
 */
import { getAdapter } from '../../adapters/registry.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import { targetsOf } from '../support/bound.ts';
import { CountingHttpProxy } from '../support/counting-http-proxy.ts';
import { preloadUnrelatedTokens } from '../support/unrelated-tokens.ts';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const UNRELATED = 3000;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

const adapter = await getAdapter('vault');
const [target] = await bringUp([adapter], { runId: 'benchscale', projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
const proxy = await new CountingHttpProxy(target!.connection.address).start();
const connection = { ...target!.connection, address: proxy.url };
const client = await adapter.connect(connection);
const base = (await loadBuiltinScenarios(['vault'])).find((x) => x.id === 'token-revoke-at-task-end')!;
const signal = new AbortController().signal;

/** Each run's wall time and the requests it made. */
async function times(label: string): Promise<{ ms: number[]; requests: number[] }> {
  const out = { ms: [] as number[], requests: [] as number[] };
  for (let i = 0; i < REPEAT; i++) {
    const before = proxy.requests;
    const t0 = performance.now();
    const result = await runScenario({ ...base, id: `${base.id}-${label}-${i}` }, { runId: 'benchscale', targets: targetsOf({ adapter, client, connection }), signal });
    out.ms.push(performance.now() - t0);
    out.requests.push(proxy.requests - before);
    if (result.verdict !== 'pass') throw new Error(`${label}: the scenario did not pass (${result.verdict})`);
  }
  return out;
}

try {
  const empty = await times('empty');
  const preloadMs = await preloadUnrelatedTokens(target!.connection, UNRELATED);
  const loaded = await times('loaded');
  console.log(`token-revoke-at-task-end, ${REPEAT} runs each, one local OpenBao`);
  console.log(`  empty target           median ${s(median(empty.ms))}  (runs: ${empty.ms.map(s).join(', ')}); requests per scenario ${empty.requests.join(', ')}`);
  console.log(`  ${UNRELATED} unrelated tokens  median ${s(median(loaded.ms))}  (runs: ${loaded.ms.map(s).join(', ')}; created in ${s(preloadMs)}); requests per scenario ${loaded.requests.join(', ')}`);
  console.log(`  ratio ${(median(loaded.ms) / median(empty.ms)).toFixed(2)} (target: within 1.30); requests ${median(empty.requests)} → ${median(loaded.requests)} (median)`);
} finally {
  await proxy.stop();
  await target!.stop();
}
