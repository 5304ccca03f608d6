/**
 * The CI examples work: their files are well-formed pipelines, and their commands, run step by
 * step on this machine (shards, artifact hand-over, merge, job summary), produce the merged report
 * with the same totals, verdicts and control view as one unsharded run — and a failing exit code
 * when a non-conformant scenario is included. The GitHub example's jitc steps use the project's own
 * action (action.yml): its steps run here as a runner would run them, inputs and all.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import type { Summary } from '../../reports/writers/summary.ts';
import { jitc } from '../support/cli.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const step = z.union([
  z.strictObject({ uses: z.string().regex(/^(\.\/|[\w-]+\/[\w-]+@v\d+)$/), with: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(), if: z.string().optional(), name: z.string().optional() }),
  z.strictObject({ run: z.string().min(1), name: z.string().optional(), if: z.string().optional(), env: z.record(z.string(), z.string()).optional() }),
]);
const workflow = z.object({
  name: z.string(),
  on: z.record(z.string(), z.unknown()),
  permissions: z.record(z.string(), z.string()),
  env: z.record(z.string(), z.union([z.string(), z.number()])),
  jobs: z.record(
    z.string(),
    z.strictObject({
      'runs-on': z.string(),
      needs: z.union([z.string(), z.array(z.string())]).optional(),
      if: z.string().optional(),
      strategy: z.object({ 'fail-fast': z.boolean(), matrix: z.object({ shard: z.array(z.number()) }) }).optional(),
      env: z.record(z.string(), z.string()).optional(),
      steps: z.array(step).min(1),
    }),
  ),
});
type Workflow = z.infer<typeof workflow>;

/** action.yml: a composite action whose inputs have defaults and whose steps are actions or bash scripts. */
const action = z.object({
  name: z.string(),
  description: z.string(),
  inputs: z.record(z.string(), z.strictObject({ description: z.string(), default: z.string() })),
  outputs: z.record(z.string(), z.strictObject({ description: z.string(), value: z.string() })),
  runs: z.strictObject({
    using: z.literal('composite'),
    steps: z.array(
      z.union([
        z.strictObject({ uses: z.string().regex(/^[\w-]+\/[\w-]+@v\d+$/), with: z.record(z.string(), z.union([z.string(), z.number()])).optional() }),
        z.strictObject({ name: z.string(), id: z.string().optional(), shell: z.literal('bash'), 'working-directory': z.string().optional(), env: z.record(z.string(), z.string()).optional(), run: z.string().min(1) }),
      ]),
    ),
  }),
});
type Action = z.infer<typeof action>;

const gitlab = z.object({
  stages: z.array(z.string()),
  variables: z.record(z.string(), z.string()),
  conformance: z.object({ stage: z.string(), parallel: z.number().int().min(2), script: z.array(z.string()), artifacts: z.object({ paths: z.array(z.string()) }) }),
  report: z.object({
    stage: z.string(),
    needs: z.array(z.string()),
    script: z.array(z.string()),
    artifacts: z.object({ reports: z.object({ junit: z.string() }) }),
  }),
});

/** A scratch checkout: the project's bin/ and examples/ seen from a directory where outputs may land. */
function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'jitc-ci-'));
  symlinkSync(join(PROJECT_ROOT, 'bin'), join(dir, 'bin'));
  symlinkSync(join(PROJECT_ROOT, 'examples'), join(dir, 'examples'));
  return dir;
}

/** npm ci would replace the node_modules this very test runs from; every other command runs as written. */
function runScript(script: string, cwd: string, env: NodeJS.ProcessEnv): number {
  const command = script.replace(/\bnpm ci( &&)?/g, 'true$1');
  const r = spawnSync('bash', ['-eo', 'pipefail', '-c', command], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 300_000 });
  return r.status ?? -1;
}

/** `${{ key }}`, and the one conditional form the example uses: `${{ key && 'then' || 'else' }}`. */
function expand(text: string, values: Record<string, string>): string {
  const value = (key: string): string => {
    if (!(key in values)) throw new Error(`unknown expression ${key}`);
    return values[key]!;
  };
  return text.replace(/\$\{\{\s*([\w.-]+)\s*(?:&&\s*'([^']*)'\s*\|\|\s*'([^']*)'\s*)?\}\}/g, (_m, key: string, then?: string, otherwise?: string) =>
    then === undefined ? value(key) : value(key) === 'true' ? then : (otherwise ?? ''),
  );
}

/**
 * Runs the action's steps as a runner would: its inputs from `with:` or their defaults, each bash
 * step with its env and working directory, the action's checkout being the project itself.
 * Returns the last step's exit code and the outputs the action declares.
 */
function runAction(act: Action, given: Record<string, string>, cwd: string, env: NodeJS.ProcessEnv): { code: number; outputs: Record<string, string> } {
  for (const name of Object.keys(given)) expect(act.inputs, `input ${name}`).toHaveProperty(name);
  const values: Record<string, string> = { 'github.action_path': PROJECT_ROOT };
  for (const [name, input] of Object.entries(act.inputs)) values[`inputs.${name}`] = given[name] ?? input.default;
  const outputFile = join(mkdtempSync(join(tmpdir(), 'jitc-action-')), 'output');
  writeFileSync(outputFile, '');
  let code = 0;
  for (const s of act.runs.steps) {
    if (!('run' in s)) continue;
    const stepEnv = Object.fromEntries(Object.entries(s.env ?? {}).map(([k, v]) => [k, expand(v, values)]));
    const dir = s['working-directory'] ? expand(s['working-directory'], values) : cwd;
    code = runScript(s.run, dir, { ...env, ...stepEnv, GITHUB_OUTPUT: outputFile });
    if (code !== 0) break;
  }
  const written = Object.fromEntries(readFileSync(outputFile, 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const outputs = Object.fromEntries(Object.entries(act.outputs).map(([name, o]) => [name, written[/steps\.gate\.outputs\.([\w-]+)/.exec(o.value)![1]!] ?? '']));
  return { code, outputs };
}

function controlView(summary: Summary): Record<string, Record<string, number>> {
  const view: Record<string, Record<string, number>> = {};
  for (const s of summary.scenarios) {
    for (const c of s.checks) for (const control of c.controls) {
      view[control] ??= {};
      view[control][c.verdict] = (view[control][c.verdict] ?? 0) + 1;
    }
  }
  return view;
}

/** Run the GitHub Actions example's jobs step by step: the matrix, the artifact hand-over, the report job. */
function runGithubExample(wf: Workflow, act: Action, broken: boolean): { code: number; dir: string; stepSummary: string; outputs: Record<string, string>[] } {
  const dir = workspace();
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(wf.env).map(([k, v]) => [k, String(v)])),
    GITHUB_STEP_SUMMARY: join(dir, 'step-summary.md'),
  };
  const values = { ...Object.fromEntries(Object.entries(wf.env).map(([k, v]) => [`env.${k}`, String(v)])), 'inputs.include_broken_example': String(broken) };
  const outputs: Record<string, string>[] = [];
  /** One job's steps: bash steps as written, the project's own action (`uses: ./`) through runAction. */
  const runJob = (steps: Workflow['jobs'][string]['steps'], matrix: Record<string, string>): number => {
    let code = 0;
    for (const s of steps) {
      if ('run' in s && !s.run.startsWith('sudo apt-get')) code = runScript(expand(s.run, { ...values, ...matrix }), dir, env);
      if ('uses' in s && s.uses === './') {
        const given = Object.fromEntries(Object.entries(s.with ?? {}).map(([k, v]) => [k, expand(String(v), { ...values, ...matrix })]));
        const ran = runAction(act, given, dir, env);
        outputs.push(ran.outputs);
        code = ran.code;
      }
      if (code !== 0) return code;
    }
    return code;
  };
  const conformance = wf.jobs.conformance!;
  for (const shard of conformance.strategy!.matrix.shard) {
    expect(runJob(conformance.steps, { 'matrix.shard': String(shard) }), `shard ${shard}`).toBe(0);
    const artifact = join(dir, 'shards', `jitc-shard-${shard}`);
    mkdirSync(artifact, { recursive: true });
    cpSync(join(dir, 'out', `shard-${shard}`), artifact, { recursive: true });
  }
  const code = runJob(wf.jobs.report!.steps, {});
  return { code, dir, stepSummary: existsSync(env.GITHUB_STEP_SUMMARY!) ? readFileSync(env.GITHUB_STEP_SUMMARY!, 'utf8') : '', outputs };
}

describe('the GitHub Actions example', () => {
  const wf = workflow.parse(parse(readFileSync(join(PROJECT_ROOT, 'examples/github-actions/jitc.yml'), 'utf8')));
  const act = action.parse(parse(readFileSync(join(PROJECT_ROOT, 'action.yml'), 'utf8')));
  let unsharded: Summary;
  let conformant: ReturnType<typeof runGithubExample>;

  beforeAll(() => {
    const out = join(mkdtempSync(join(tmpdir(), 'jitc-unsharded-')), 'out');
    const r = jitc(['run', '--out', out]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    unsharded = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    conformant = runGithubExample(wf, act, false);
  }, 600_000);

  test('is a well-formed workflow whose shard matrix matches JITC_SHARDS', () => {
    expect(wf.jobs.conformance!.strategy!.matrix.shard).toHaveLength(Number(wf.env.JITC_SHARDS));
    expect(wf.jobs.report!.needs).toBe('conformance');
  });

  test('run step by step, it produces the merged report, a job summary and exit 0', () => {
    expect(conformant.code).toBe(0);
    for (const f of ['summary.json', 'summary.md', 'junit.xml', 'html/index.html']) expect(existsSync(join(conformant.dir, 'out/merged', f)), f).toBe(true);
    expect(conformant.stepSummary).toMatch(/^## jitc run/);
    expect(conformant.stepSummary).toMatch(/### By control/);
  });

  test("the action's outputs name the report and its verdict: each shard's, and the merged gate's", () => {
    expect(conformant.outputs).toHaveLength(4);
    for (const [i, o] of conformant.outputs.slice(0, 3).entries()) expect(o).toEqual({ 'report-dir': join(conformant.dir, `out/shard-${i + 1}`), 'exit-code': '0', verdict: 'pass' });
    expect(conformant.outputs[3]).toEqual({ 'report-dir': join(conformant.dir, 'out/merged'), 'exit-code': '0', verdict: 'pass' });
  });

  test('3 shards merged give the same totals, verdicts and control view as one unsharded run', () => {
    const merged = JSON.parse(readFileSync(join(conformant.dir, 'out/merged/summary.json'), 'utf8')) as Summary;
    expect(merged.shards).toHaveLength(3);
    expect(merged.totals).toEqual(unsharded.totals);
    const verdicts = (s: Summary): string[] => s.scenarios.map((x) => `${x.adapter}/${x.id}=${x.verdict}`).sort();
    expect(verdicts(merged)).toEqual(verdicts(unsharded));
    expect(controlView(merged)).toEqual(controlView(unsharded));
  });

  test('with the non-conformant scenario included, the merged gate fails the job', () => {
    const broken = runGithubExample(wf, act, true);
    expect(broken.code).toBe(1);
    expect(broken.outputs.at(-1)).toMatchObject({ 'exit-code': '1', verdict: 'fail' });
    // The shard that ran the broken scenario failed, and still passed its step: the merge gates.
    expect(broken.outputs.slice(0, 3).some((o) => o.verdict === 'fail')).toBe(true);
    const merged = JSON.parse(readFileSync(join(broken.dir, 'out/merged/summary.json'), 'utf8')) as Summary;
    expect(merged.scenarios.find((s) => s.id === 'example-token-without-ttl')?.verdict).toBe('fail');
    expect(merged.gate.gating.some((g) => g.startsWith('vault/example-token-without-ttl:'))).toBe(true);
    expect(broken.stepSummary).toMatch(/❌ fail/);
  }, 600_000);
});

describe('the GitLab CI example', () => {
  test('is a well-formed pipeline whose jobs, run step by step, merge into a report with JUnit', () => {
    const ci = gitlab.parse(parse(readFileSync(join(PROJECT_ROOT, 'examples/gitlab-ci/.gitlab-ci.yml'), 'utf8'), { merge: true }));
    expect(ci.stages).toContain(ci.conformance.stage);
    expect(ci.stages).toContain(ci.report.stage);
    const dir = workspace();
    // Three quick suites, one per shard, through the pipeline's own JITC_EXTRA_ARGS: what this proves
    // is the jobs' commands, sharding and merge; that shards of every suite merge into the totals of
    // one unsharded run is the GitHub example's test above.
    const env = { ...ci.variables, JITC_EXTRA_ARGS: '--suite postgres,ssh,ldap', CI_NODE_TOTAL: String(ci.conformance.parallel) };
    for (let i = 1; i <= ci.conformance.parallel; i++) {
      for (const line of ci.conformance.script) expect(runScript(line, dir, { ...env, CI_NODE_INDEX: String(i) }), line).toBe(0);
    }
    for (const line of ci.report.script) expect(runScript(line, dir, env), line).toBe(0);
    expect(existsSync(join(dir, ci.report.artifacts.reports.junit))).toBe(true);
    const merged = JSON.parse(readFileSync(join(dir, 'out/merged/summary.json'), 'utf8')) as Summary;
    expect(merged.shards).toHaveLength(ci.conformance.parallel);
    expect(new Set(merged.scenarios.map((x) => x.adapter))).toEqual(new Set(['postgres', 'ssh', 'ldap']));
    writeFileSync(join(dir, 'done'), '');
  }, 600_000);
});
