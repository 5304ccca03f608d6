/**
 * Benchmark: wall time of each adapter's suite next to its floor. Run with `npm run bench`;
 * prints figures, asserts nothing. BENCH_SUITES (default vault,ldap,aws,postgres,ssh; idp takes a
 * Keycloak start of a minute) chooses the suites, BENCH_REPEAT (default 3) the runs of each.
 *
 *   floor = server start + the slowest scenario's own floor, where a scenario's floor is when its
 *           end falls due (window + grace for expiry, at once for revocation) plus the longer of its
 *           reuse deadline and the confirmation window: a denial counts only once it held that long.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { getAdapter } from '../../adapters/registry.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import { CONFIRM_MIN_MS } from '../../scenarios/reuse-poll.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const SUITES = (process.env.BENCH_SUITES ?? 'vault,ldap,aws,postgres,ssh').split(',').filter(Boolean);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function serverStartMs(suite: string): Promise<number> {
  const adapter = await getAdapter(suite);
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    const [target] = await bringUp([adapter], { runId: `bench${i}`, projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
    times.push(performance.now() - t0);
    await target!.stop();
  }
  return median(times);
}

/** Each run's wall time and worst verdict line: a suite that did not pass is no figure to quote. */
function suiteRuns(suite: string): { walls: number[]; failed: string[] } {
  const walls: number[] = [];
  const failed: string[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const out = mkdtempSync(join(tmpdir(), 'jitc-bench-'));
    const t0 = performance.now();
    const r = spawnSync(join(PROJECT_ROOT, 'bin', 'jitc'), ['run', '--suite', suite, '--out', out], { encoding: 'utf8' });
    walls.push(performance.now() - t0);
    if (r.status !== 0) failed.push(`run ${i + 1} exited ${r.status}: ${`${r.stdout}${r.stderr}`.trim().split('\n').slice(-3).join(' / ')}`);
  }
  return { walls, failed };
}

/** The slowest scenario of a suite by its own floor. */
async function slowest(suite: string): Promise<{ id: string; endsAt: number; confirm: number; ms: number; count: number }> {
  const scenarios = await loadBuiltinScenarios([suite]);
  const longest = scenarios
    .map((x) => {
      const endsAt = x.end.mode === 'expire' ? (x.task.windowSeconds + x.end.graceSeconds) * 1000 : 0;
      const confirm = Math.max(x.reuse.deadlineSeconds * 1000, CONFIRM_MIN_MS);
      return { id: x.id, endsAt, confirm, ms: endsAt + confirm };
    })
    .sort((a, b) => b.ms - a.ms)[0]!;
  return { ...longest, count: scenarios.length };
}

// bin/jitc rebuilds the compiled CLI when a source changed: brought up to date here, untimed.
spawnSync(join(PROJECT_ROOT, 'bin', 'jitc'), ['--help'], { encoding: 'utf8' });
console.log(`Suite wall time vs floor: ${REPEAT} run(s) of \`jitc run --suite <adapter>\` each (CLI start, server start, reports included)`);
console.log('  suite     scenarios  wall (median)  floor    ×floor  floor = server start + slowest scenario: end due + deadline or confirmation   load');
for (const suite of SUITES) {
  const start = await serverStartMs(suite);
  const longest = await slowest(suite);
  const load = loadavg()[0]!.toFixed(1);
  const { walls, failed } = suiteRuns(suite);
  const floor = start + longest.ms;
  const wall = median(walls);
  console.log(
    [
      `  ${suite.padEnd(9)}`,
      String(longest.count).padStart(9),
      s(wall).padStart(13),
      s(floor).padStart(7),
      (wall / floor).toFixed(2).padStart(6),
      `  ${s(start)} + ${longest.id}: ${s(longest.endsAt)} + ${s(longest.confirm)}`.padEnd(72),
      load.padStart(5),
    ].join('  '),
  );
  for (const f of failed) console.log(`    ${suite}: ${f}`);
}
