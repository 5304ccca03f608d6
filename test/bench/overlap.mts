/**
 * Benchmark: how many grants one harness holds at once. N copies of one short-TTL scenario run
 * concurrently in one process against one local target, and the requests they make are counted
 * (below: where). Run with `npm run bench:overlap`; prints figures, asserts nothing.
 *
 *   BENCH_ADAPTER  vault (default): vault/token-ttl-expiry (3 s token) on OpenBao;
 *                  aws: aws/sts-assume-role-expiry (3 s session) on moto;
 *                  ldap: ldap/dynamic-account-ttl (3 s dynamic entry) on slapd.
 *   BENCH_SIZES    the copies at once, e.g. 1,64,200,500 (each adapter has its own default).
 *
 *   floor = the larger of one copy's run time and (requests the run made ÷ the target's measured
 *           throughput, measured in the same run, before the sizes and after them, the higher of
 *           the two): the run cannot be faster than the target answers.
 *
 * Requests are counted where the target records them: OpenBao's own audit log (one `request`
 * record per call, its `response` record timed by the same clock), so nothing stands between the
 * harness and the target. moto and slapd keep no such record here; a relay in a process of its own
 * counts for them, and shares the machine's two cores with both.
 */
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { GetUserCommand } from '@aws-sdk/client-iam';
import type { Adapter, TargetConnection } from '../../adapters/contract.ts';
import { getAdapter } from '../../adapters/registry.ts';
import { bringUp } from '../../adapters/bring-up.ts';
import type { AwsClient } from '../../adapters/aws/client.ts';
import { MOTO_ADMIN } from '../../adapters/aws/moto-server.ts';
import type { LdapClient } from '../../adapters/ldap/client.ts';
import type { VaultClient } from '../../adapters/vault/client.ts';
import { runScenario } from '../../scenarios/engine.ts';
import { loadBuiltinScenarios } from '../../scenarios/load.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';
import { linesSince, logEnd } from '../../adapters/log-lines.ts';
import type { ScenarioResult } from '../../scenarios/result.ts';
import { targetsOf } from '../support/bound.ts';
import { CountingProxyProcess, type RelayedProtocol } from '../support/counting-proxy-process.ts';

/** What the requests are counted by. */
interface Counter {
  /** Requests so far, and the target's answer times so far, ms, where the counter can tell them (HTTP, the audit log; empty for LDAP). */
  tally(): Promise<{ requests: number; answerMs: number[] }>;
  stop(): Promise<void>;
}

interface Profile {
  scenario: string;
  sizes: string;
  server: string;
  /** The target's throughput, as `<count> <unit>/s`. */
  unit: string;
  /** What counts the requests (a relay in front of the target, or the target's own record), and the connection the scenarios use. */
  count(connection: TargetConnection): Promise<{ counter: Counter; connection: TargetConnection }>;
  /** Requests per second the target answers, 32 at a time, of a kind its scenarios make. */
  throughput(client: unknown, connection: TargetConnection): Promise<number>;
}

/** Requests OpenBao's audit device recorded, and each one's answer time from its request and response records. */
async function viaAuditLog(c: TargetConnection): Promise<{ counter: Counter; connection: TargetConnection }> {
  const log = c.settings.auditLog;
  if (!log) throw new Error('the local OpenBao names no audit log');
  // From where the log ends now: what earlier runs recorded is not this run's.
  let offset = await logEnd(log).catch(() => 0);
  let requests = 0;
  const answerMs: number[] = [];
  const asked = new Map<string, number>();
  const counter: Counter = {
    async tally() {
      const read = await linesSince(log, offset, 'the audit log');
      offset = read.end;
      for (const { text } of read.lines) {
        const record = JSON.parse(text) as { type?: string; time?: string; request?: { id?: string } };
        const id = record.request?.id ?? '';
        const at = Date.parse(record.time ?? '');
        if (record.type === 'request') {
          requests += 1;
          asked.set(id, at);
        } else if (record.type === 'response' && asked.has(id)) {
          answerMs.push(at - asked.get(id)!);
          asked.delete(id);
        }
      }
      return { requests, answerMs: [...answerMs] };
    },
    async stop() {},
  };
  return { counter, connection: c };
}

async function viaRelay(upstream: string, through: (url: string) => TargetConnection, protocol: RelayedProtocol = 'http'): Promise<{ counter: Counter; connection: TargetConnection }> {
  // In its own process: relaying every request in the harness's would measure the relay too.
  const proxy = await CountingProxyProcess.start(upstream, protocol);
  return { counter: proxy, connection: through(proxy.url) };
}

/** `count` calls of `call`, 32 at a time; calls per second. */
async function rate(count: number, call: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next++ < count) await call();
    }),
  );
  return count / ((performance.now() - t0) / 1000);
}

const PROFILES: Record<string, Profile> = {
  vault: {
    scenario: 'token-ttl-expiry',
    sizes: '1,64,200,500',
    server: 'OpenBao',
    unit: 'token creations',
    count: viaAuditLog,
    // Short-lived, so they leave nothing.
    throughput: (client) => rate(2000, () => (client as VaultClient).api.call('POST', 'auth/token/create', { body: { ttl: '2s', no_default_policy: true, policies: ['default'] } })),
  },
  aws: {
    scenario: 'sts-assume-role-expiry',
    sizes: '1,64,200',
    server: 'moto',
    unit: 'IAM requests',
    count: (c) => viaRelay(c.settings.endpoint!, (url) => ({ ...c, address: url, settings: { ...c.settings, endpoint: url } })),
    throughput: (client) => rate(400, () => (client as AwsClient).iam.send(new GetUserCommand({ UserName: MOTO_ADMIN }))),
  },
  ldap: {
    scenario: 'dynamic-account-ttl',
    sizes: '1,50,100',
    server: 'slapd',
    unit: 'LDAP searches',
    count: (c) => viaRelay(c.settings.url!, (url) => ({ ...c, address: url, settings: { ...c.settings, url } }), 'ldap'),
    throughput: (client, c) => rate(2000, () => (client as LdapClient).admin.search(c.settings.grantGroupDn!, { scope: 'base', attributes: ['1.1'] })),
  },
};

const adapterName = process.env.BENCH_ADAPTER ?? 'vault';
const profile = PROFILES[adapterName];
if (!profile) throw new Error(`BENCH_ADAPTER must be one of ${Object.keys(PROFILES).join(', ')}`);
const SIZES = (process.env.BENCH_SIZES ?? profile.sizes).split(',').map(Number);
const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const pct = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
};

/** CPU time a process has used so far, ms, from the kernel's own count (utime + stime, in clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  // After the command's closing parenthesis, utime and stime are the 12th and 13th fields.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Peak resident set of a process, MB, from the kernel's own high-water mark. */
function peakRssMb(pid: number | string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

const adapter: Adapter = await getAdapter(adapterName);
const [target] = await bringUp([adapter], { runId: 'benchoverlap', projectRoot: PROJECT_ROOT, mode: 'local', config: {}, log: () => undefined });
if (!target) throw new Error(`no ${adapterName} target`);
const targetPid = target.pid;
const { counter, connection } = await profile.count(target.connection);
const client = await adapter.connect(connection);
const base = (await loadBuiltinScenarios([adapterName])).find((x) => x.id === profile.scenario)!;
const signal = new AbortController().signal;
// Every scenario's waits listen on it, as a run's scenarios listen on the run's one signal.
setMaxListeners(0, signal);
// Every size shares the process's one admission scheduler, as a run's scenarios do: the cap it
// learns at one size carries into the next, so the sizes run smallest first.

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
  /** The harness's CPU time over the wall time: near 1, its one event loop was the bottleneck. */
  cpuShare: number;
  /** The target's CPU time over the wall time, where the target is a local process: with the harness's, how busy the machine's cores were. */
  targetCpuShare: number | null;
  answers: number[];
  load: string;
  /** Each phase's durations, ms, across the copies: where a slow run spent its time. */
  phaseMs: Map<string, number[]>;
  /** When the copies asked for their grants, ms after the run started: how long issuing all of them took. */
  requestedMs: number[];
}

async function copies(n: number): Promise<Row> {
  const before = await counter.tally();
  const load = loadavg()[0]!.toFixed(1);
  const cpu0 = process.cpuUsage();
  const targetCpu0 = targetPid ? cpuMs(targetPid) : null;
  const t0 = performance.now();
  const startedAt = Date.now();
  const results: ScenarioResult[] = await Promise.all(
    Array.from({ length: n }, (_, i) => runScenario({ ...base, id: `${base.id}-${n}-${i}` }, { runId: 'benchoverlap', targets: targetsOf({ adapter, client, connection }), signal })),
  );
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const targetCpuShare = targetPid && targetCpu0 !== null ? (cpuMs(targetPid) - targetCpu0) / wallMs : null;
  const after = await counter.tally();
  const verdicts: Record<string, number> = {};
  for (const r of results) verdicts[r.verdict] = (verdicts[r.verdict] ?? 0) + 1;
  const findings = new Map<string, { count: number; detail: string }>();
  for (const c of results.flatMap((r) => r.checks.filter((c) => c.verdict !== 'pass'))) {
    const key = `${c.name} ${c.verdict}`;
    const seen = findings.get(key);
    if (seen) seen.count++;
    else findings.set(key, { count: 1, detail: c.detail.slice(0, 240) });
  }
  const phaseMs = new Map<string, number[]>();
  const addPhase = (phase: string, ms: number): void => {
    const seen = phaseMs.get(phase);
    if (seen) seen.push(ms);
    else phaseMs.set(phase, [ms]);
  };
  for (const r of results) {
    let phased = 0;
    for (const p of r.phases) {
      const ms = Date.parse(p.finishedAt) - Date.parse(p.startedAt);
      phased += ms;
      addPhase(p.phase, ms);
    }
    // Admission, judging and anything else between the phases.
    addPhase('outside phases', Date.parse(r.finishedAt) - Date.parse(r.startedAt) - phased);
  }
  const lags = (pick: (r: ScenarioResult) => number | null): number[] => results.map(pick).filter((x): x is number => x !== null);
  return {
    n,
    wallMs,
    requests: after.requests - before.requests,
    verdicts,
    lag: lags((r) => r.metrics.harnessLag.issueToFirstUseMs),
    admission: lags((r) => r.metrics.harnessLag.admissionWaitMs),
    reuseLag: lags((r) => r.metrics.harnessLag.endToFirstReuseMs),
    findings,
    cpuShare: (cpu.user + cpu.system) / 1000 / wallMs,
    targetCpuShare,
    answers: after.answerMs.slice(before.answerMs.length),
    load,
    phaseMs,
    requestedMs: results.flatMap((r) => r.phases.filter((p) => p.phase === 'request').map((p) => Date.parse(p.startedAt) - startedAt)),
  };
}

// The target's throughput at rest, before any size, and again after them all: after hundreds of
// copies the target may still be busy with their expiries, which would understate what it can
// answer and so flatter every × floor. The higher of the two sets the floor.
const throughputBefore = await profile.throughput(client, connection);
// What that measure made (OpenBao's 2-second tokens) expires and is reaped before the first size.
await new Promise((resolve) => setTimeout(resolve, 5000));
const rows: Row[] = [];
for (const n of SIZES) rows.push(await copies(n));
const throughputAfter = await profile.throughput(client, connection);
const throughput = Math.max(throughputBefore, throughputAfter);
const one = rows.find((r) => r.n === 1)?.wallMs ?? (await copies(1)).wallMs;

console.log(
  `Overlap: copies of ${adapterName}/${profile.scenario} at once, one process, one local ${profile.server}; ${throughput.toFixed(0)} ${profile.unit}/s (${throughputBefore.toFixed(0)} before the sizes, ${throughputAfter.toFixed(0)} after)`,
);
console.log('  copies  wall     floor    ×floor  requests  verdicts                 issue→use p50/p95/max   admission wait p50/max  end→reuse p95  load');
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
      r.load.padStart(5),
    ].join('  '),
  );
}
for (const r of rows) {
  const answers = r.answers.length > 0 ? `target answers p50/p95/max ${pct(r.answers, 50).toFixed(0)}/${pct(r.answers, 95).toFixed(0)}/${Math.max(...r.answers).toFixed(0)} ms` : 'target answer times not measured on this protocol';
  const targetCpu = r.targetCpuShare === null ? '' : `, ${profile.server} CPU ${(r.targetCpuShare * 100).toFixed(0)} %`;
  console.log(`  at ${r.n}: harness CPU ${(r.cpuShare * 100).toFixed(0)} % of the wall time${targetCpu} (of ${cpus().length} cores at most ${cpus().length * 100} %); ${answers}`);
}
for (const r of rows) {
  const phases = [...r.phaseMs].map(([phase, ms]) => `${phase} ${pct(ms, 50)}/${Math.max(...ms)}`).join(', ');
  console.log(`  at ${r.n}: phase ms p50/max: ${phases}; grants asked for from ${s(Math.min(...r.requestedMs))} to ${s(Math.max(...r.requestedMs))} after the start`);
}
for (const r of rows) for (const [key, f] of r.findings) console.log(`  at ${r.n}: ${f.count} × ${key}: ${f.detail}`);
console.log(`  peak RSS: harness ${peakRssMb('self').toFixed(0)} MB, ${profile.server} ${target.pid ? `${peakRssMb(target.pid).toFixed(0)} MB` : 'n/a'}`);
await adapter.disconnect?.(client);
await counter.stop();
await target.stop();
