/**
 * Benchmark: wall time of the Vault suite next to its floor, and proof that concurrent scenarios
 * overlap their waits. Run with `npm run bench`; prints figures, asserts nothing.
 *
 *   floor = server start + the slowest scenario's own floor, where a scenario's floor is when its
 *           end falls due (window + grace for expiry, at once for revocation) plus the longer of its
 *           reuse deadline and the confirmation window: a denial counts only once it held that long.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getAdapter } from '../../adapters/registry.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import { CONFIRM_MIN_MS } from '../../scenarios/reuse-poll.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { targetsOf } from '../support/bound.ts';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

async function serverStartMs(): Promise<number> {
  const adapter = await getAdapter('vault');
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    const [target] = await bringUp([adapter], { runId: `bench${i}`, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
    times.push(performance.now() - t0);
    await target!.stop();
  }
  return median(times);
}

function suiteWallMs(): number[] {
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const out = mkdtempSync(join(tmpdir(), 'jitc-bench-'));
    const t0 = performance.now();
    const r = spawnSync(join(PROJECT_ROOT, 'bin', 'jitc'), ['run', '--suite', 'vault', '--out', out], { encoding: 'utf8' });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`jitc run exited ${r.status}: ${r.stdout}${r.stderr}`);
  }
  return times;
}

/** The same 3-second-TTL scenario once, then ten at a time, against one server. */
async function overlapMs(): Promise<{ one: number; ten: number }> {
  const adapter = await getAdapter('vault');
  const [target] = await bringUp([adapter], { runId: 'benchov', projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
  const client = await adapter.connect(target!.connection);
  const base = (await loadBuiltinScenarios(['vault'])).find((x) => x.id === 'token-ttl-expiry')!;
  const signal = new AbortController().signal;
  const run = async (n: number): Promise<number> => {
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => runScenario({ ...base, id: `${base.id}-${n}-${i}` }, { runId: 'benchov', targets: targetsOf({ adapter, client, connection: target!.connection }), signal })),
    );
    if (results.some((r) => r.verdict !== 'pass')) throw new Error('a scenario did not pass');
    return performance.now() - t0;
  };
  const one = await run(1);
  const ten = await run(10);
  await target!.stop();
  return { one, ten };
}

const scenarios = await loadBuiltinScenarios(['vault']);
const longest = scenarios
  .map((x) => {
    const endsAt = x.end.mode === 'expire' ? (x.task.windowSeconds + x.end.graceSeconds) * 1000 : 0;
    const confirm = Math.max(x.reuse.deadlineSeconds * 1000, CONFIRM_MIN_MS);
    return { id: x.id, endsAt, confirm, ms: endsAt + confirm };
  })
  .sort((a, b) => b.ms - a.ms)[0]!;
const start = await serverStartMs();
const walls = suiteWallMs();
const overlap = await overlapMs();
const floor = start + longest.ms;
console.log(`Vault suite, ${scenarios.length} scenarios, ${REPEAT} runs of \`jitc run --suite vault\` (CLI start, server start, reports included)`);
console.log(`  wall time      median ${s(median(walls))}  (runs: ${walls.map(s).join(', ')})`);
console.log(`  floor          ${s(floor)} = server start ${s(start)} + slowest scenario (${longest.id}): end due at ${s(longest.endsAt)} + deadline or confirmation ${s(longest.confirm)}`);
console.log(`  waits overlap: one token-ttl-expiry ${s(overlap.one)}, ten at once ${s(overlap.ten)} (ratio ${(overlap.ten / overlap.one).toFixed(2)})`);
