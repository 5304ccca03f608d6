/**
 * Benchmark: the default `--concurrency`, chosen from measurement. Two workloads, each run once at
 * each concurrency in BENCH_CONCURRENCY (default 4,8,16,32,64):
 * - the README's first command (`jitc run`: every suite on the embedded local targets, waivers
 *   applied), whose suites hold at most a dozen scenarios each;
 * - an organisation's many roles: BENCH_ROLES (default 64) scenario files, each a copy of
 *   vault/token-ttl-expiry (3 s token), in one suite.
 * (BENCH_SKIP_QUICK_START=1 leaves out the first.) Each run's wall time, verdicts and the
 * harness's worst lag are printed. A default is worth its wall time only when its verdicts are the
 * same as at the lowest concurrency: a run that finishes sooner with a check inconclusive is no
 * gain. Run with `npm run bench:concurrency`; prints figures, asserts nothing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Summary } from '../../reports/writers/summary.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const LEVELS = (process.env.BENCH_CONCURRENCY ?? '4,8,16,32,64').split(',').map(Number);
const ROLES = Number(process.env.BENCH_ROLES ?? 64);
const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

// bin/jitc rebuilds the compiled CLI when a source changed: brought up to date here, untimed.
spawnSync(join(PROJECT_ROOT, 'bin', 'jitc'), ['--help'], { encoding: 'utf8' });

/** Copies of one built-in scenario as scenario files of their own, as an organisation's roles would be. */
function roleFiles(count: number): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'jitc-bench-roles-'));
  const original = readFileSync(join(PROJECT_ROOT, 'scenarios/builtin/vault/token-ttl-expiry.yaml'), 'utf8');
  return Array.from({ length: count }, (_, i) => {
    const file = join(dir, `role-${i}.yaml`);
    writeFileSync(file, original.replace(/^id: token-ttl-expiry$/m, `id: role-${i}`));
    return file;
  });
}

function measure(label: string, args: string[]): void {
  console.log(`${label}, one run each`);
  console.log('  N    wall     exit  verdicts                          checks not pass              worst issue→use / end→reuse  of a TTL  load');
  for (const n of LEVELS) {
    const out = join(mkdtempSync(join(tmpdir(), 'jitc-bench-concurrency-')), 'out');
    const load = loadavg()[0]!.toFixed(1);
    const t0 = performance.now();
    const r = spawnSync(join(PROJECT_ROOT, 'bin', 'jitc'), ['run', ...args, '--concurrency', String(n), '--out', out], { encoding: 'utf8' });
    const wall = performance.now() - t0;
    let summary: Summary;
    try {
      summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    } catch {
      console.log(`  ${String(n).padEnd(3)}  ${s(wall).padStart(7)}  ${String(r.status).padStart(4)}  no summary: ${`${r.stdout}${r.stderr}`.trim().split('\n').slice(-2).join(' / ')}`);
      continue;
    }
    const verdicts = Object.entries(summary.totals).filter(([, c]) => c > 0).map(([v, c]) => `${c} ${v}`).join(', ');
    const notPass = new Map<string, number>();
    for (const x of summary.scenarios) for (const c of x.checks) if (c.verdict !== 'pass') notPass.set(c.verdict, (notPass.get(c.verdict) ?? 0) + 1);
    const lag = (pick: (m: Summary['scenarios'][number]['metrics']['harnessLag']) => number | null): number =>
      Math.max(0, ...summary.scenarios.map((x) => pick(x.metrics.harnessLag) ?? 0));
    // The lag that matters is the share of the grant's life it ate: a second of a 10 s window is not a second of a 3 s token.
    const share = Math.max(
      0,
      ...summary.scenarios.map((x) => {
        const ttl = x.metrics.ttlSeconds ?? x.metrics.ttlRequestedSeconds;
        const used = x.metrics.harnessLag.issueToFirstUseMs;
        return ttl && used !== null ? used / (ttl * 1000) : 0;
      }),
    );
    console.log(
      [
        `  ${String(n).padEnd(3)}`,
        s(wall).padStart(7),
        String(r.status).padStart(4),
        verdicts.padEnd(32),
        ([...notPass].map(([v, c]) => `${c} ${v}`).join(', ') || 'none').padEnd(27),
        `${lag((l) => l.issueToFirstUseMs)} / ${lag((l) => l.endToFirstReuseMs)} ms`.padStart(28),
        `${(share * 100).toFixed(0)} %`.padStart(10),
        load.padStart(5),
      ].join('  '),
    );
  }
}

if (process.env.BENCH_SKIP_QUICK_START !== '1') measure('`jitc run --concurrency N` (every suite, local targets, waivers applied)', []);
measure(`${ROLES} roles: \`jitc run --scenario-file\` with ${ROLES} copies of vault/token-ttl-expiry (3 s token), one suite`, ['--scenario-file', ...roleFiles(ROLES)]);
