/**
 * The CI examples work: their files are well-formed pipelines, and their commands, run step by
 * step on this machine (shards, artifact hand-over, merge, job summary), produce the merged report
 * with the same totals, verdicts and control view as one unsharded run — and a failing exit code
 * when a non-conformant scenario is included.
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
  z.strictObject({ uses: z.string().regex(/^[\w-]+\/[\w-]+@v\d+$/), with: z.record(z.string(), z.unknown()).optional(), if: z.string().optional(), name: z.string().optional() }),
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

function expand(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{\{\s*([\w.]+)\s*\}\}/g, (_m, key: string) => {
    if (!(key in values)) throw new Error(`unknown expression ${key}`);
    return values[key]!;
  });
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
function runGithubExample(wf: Workflow, extraArgs: string): { code: number; dir: string; stepSummary: string } {
  const dir = workspace();
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(wf.env).map(([k, v]) => [k, String(v)])),
    JITC_EXTRA_ARGS: extraArgs,
    GITHUB_STEP_SUMMARY: join(dir, 'step-summary.md'),
  };
  const conformance = wf.jobs.conformance!;
  for (const shard of conformance.strategy!.matrix.shard) {
    for (const s of conformance.steps) {
      if ('run' in s && !s.run.startsWith('sudo apt-get')) {
        expect(runScript(expand(s.run, { 'matrix.shard': String(shard) }), dir, env), s.run).toBe(0);
      }
    }
    const artifact = join(dir, 'shards', `jitc-shard-${shard}`);
    mkdirSync(artifact, { recursive: true });
    cpSync(join(dir, 'out', `shard-${shard}`), artifact, { recursive: true });
  }
  let code = 0;
  for (const s of wf.jobs.report!.steps) if ('run' in s) code = runScript(s.run, dir, env);
  return { code, dir, stepSummary: existsSync(env.GITHUB_STEP_SUMMARY!) ? readFileSync(env.GITHUB_STEP_SUMMARY!, 'utf8') : '' };
}

describe('the GitHub Actions example', () => {
  const wf = workflow.parse(parse(readFileSync(join(PROJECT_ROOT, 'examples/github-actions/jitc.yml'), 'utf8')));
  let unsharded: Summary;
  let conformant: ReturnType<typeof runGithubExample>;

  beforeAll(() => {
    const out = join(mkdtempSync(join(tmpdir(), 'jitc-unsharded-')), 'out');
    const r = jitc(['run', '--out', out]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    unsharded = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    conformant = runGithubExample(wf, '');
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

  test('3 shards merged give the same totals, verdicts and control view as one unsharded run', () => {
    const merged = JSON.parse(readFileSync(join(conformant.dir, 'out/merged/summary.json'), 'utf8')) as Summary;
    expect(merged.shards).toHaveLength(3);
    expect(merged.totals).toEqual(unsharded.totals);
    const verdicts = (s: Summary): string[] => s.scenarios.map((x) => `${x.adapter}/${x.id}=${x.verdict}`).sort();
    expect(verdicts(merged)).toEqual(verdicts(unsharded));
    expect(controlView(merged)).toEqual(controlView(unsharded));
  });

  test('with the non-conformant scenario included, the merged gate fails the job', () => {
    const broken = runGithubExample(wf, '--suite vault,aws,ldap --scenario-file examples/non-conformant/vault-token-without-ttl.yaml');
    expect(broken.code).toBe(1);
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
    const env = { ...ci.variables, JITC_EXTRA_ARGS: '', CI_NODE_TOTAL: String(ci.conformance.parallel) };
    for (let i = 1; i <= ci.conformance.parallel; i++) {
      for (const line of ci.conformance.script) expect(runScript(line, dir, { ...env, CI_NODE_INDEX: String(i) }), line).toBe(0);
    }
    for (const line of ci.report.script) expect(runScript(line, dir, env), line).toBe(0);
    expect(existsSync(join(dir, ci.report.artifacts.reports.junit))).toBe(true);
    writeFileSync(join(dir, 'done'), '');
  }, 600_000);
});
