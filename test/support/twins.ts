/**
 * Non-conformant twins: data files under test/twins/<adapter>/ that take a built-in scenario and
 * break its setup (a token without TTL, an orphan child…). The harness must report each as
 * `fail`, naming the checks the file lists.
 */
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { BUILTIN_DIR, PROJECT_ROOT, readYaml, toScenario, describeIssue } from '../../scenarios/load.ts';
import type { Scenario } from '../../scenarios/schema.ts';

const twinSchema = z.strictObject({
  twinOf: z.string(),
  /** The broken setup, in words: what a reader of the test report sees. */
  broken: z.string().min(5),
  params: z.record(z.string(), z.unknown()).default({}),
  expect: z.strictObject({ failedChecks: z.array(z.string()).min(1) }),
});

export interface Twin {
  scenario: Scenario;
  of: string;
  broken: string;
  failedChecks: string[];
}

export async function loadTwins(adapter: string): Promise<Twin[]> {
  const dir = join(PROJECT_ROOT, 'test', 'twins', adapter);
  if (!existsSync(dir)) return [];
  const twins: Twin[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.yaml')).sort()) {
    const file = join(dir, name);
    const parsed = twinSchema.safeParse(readYaml(file));
    if (!parsed.success) throw new Error(`${file}: ${describeIssue(parsed.error)}`);
    const twin = parsed.data;
    const original = readYaml(join(BUILTIN_DIR, adapter, `${twin.twinOf}.yaml`)) as Record<string, unknown>;
    const raw = {
      ...original,
      id: `${twin.twinOf}-twin`,
      title: `${String(original.title)} — broken: ${twin.broken}`,
      params: { ...(original.params as Record<string, unknown> | undefined), ...twin.params },
    };
    twins.push({ scenario: await toScenario(raw, file), of: twin.twinOf, broken: twin.broken, failedChecks: twin.expect.failedChecks });
  }
  return twins;
}
