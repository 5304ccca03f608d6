/**
 * Non-conformant variants of the built-in scenarios, as data: each file under
 * test/<kind>/<adapter>/ takes a built-in scenario (`twinOf`) and breaks its setup through the
 * mechanism's params (a token without TTL, an orphan child…). The harness must report each as
 * `fail`, naming the checks the file lists.
 * - `twins`: the one broken twin every built-in scenario has (id `<scenario>-twin`);
 * - `mutants`: the assurance matrix's further broken setups (id: the file's name).
 */
import { readdirSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { BUILTIN_DIR, toScenario } from '../../scenarios/load.ts';
import { type Scenario, scenarioId } from '../../scenarios/schema.ts';
import { PROJECT_ROOT, readYaml, describeIssue } from '../../scenarios/input.ts';

const variantSchema = z.strictObject({
  twinOf: z.string(),
  /** The broken setup, in words: what a reader of the test report sees. */
  broken: z.string().min(5),
  params: z.record(z.string(), z.unknown()).default({}),
  /** For a scenario that names its halves apart: what to change in the grant source's params. */
  grant: z.strictObject({ params: z.record(z.string(), z.unknown()) }).optional(),
  /** For a scenario that names its halves apart: what to change in the point of use's params (a weaker server profile). */
  use: z.strictObject({ params: z.record(z.string(), z.unknown()) }).optional(),
  /** A different end (a defect that only shows at a revocation): replaces the built-in's. */
  end: z.record(z.string(), z.unknown()).optional(),
  /**
   * What a broken broker keeps on the target after the run, in words: a grant it never ended is not
   * the harness's own, so it is swept apart, and the sweep must find it (`jitc cleanup`).
   */
  keeps: z.string().min(5).optional(),
  /** A different approval window: a revocation defect must be seen before the grant would expire by itself. */
  task: z.strictObject({ windowSeconds: z.number().positive() }).optional(),
  expect: z.strictObject({ failedChecks: z.array(z.string()).min(1) }),
});

export type VariantKind = 'twins' | 'mutants';

export interface Twin {
  scenario: Scenario;
  /** The built-in scenario it breaks. */
  of: string;
  /** The file's name without `.yaml`. */
  name: string;
  kind: VariantKind;
  broken: string;
  failedChecks: string[];
  keeps?: string;
}

export async function loadVariants(adapter: string, kind: VariantKind): Promise<Twin[]> {
  const dir = join(PROJECT_ROOT, 'test', kind, adapter);
  if (!existsSync(dir)) return [];
  const variants: Twin[] = [];
  for (const file of readdirSync(dir).filter((n) => n.endsWith('.yaml')).sort().map((n) => join(dir, n))) {
    const parsed = variantSchema.safeParse(readYaml(file));
    if (!parsed.success) throw new Error(`${file}: ${describeIssue(parsed.error)}`);
    const variant = parsed.data;
    const name = basename(file, '.yaml');
    const id = kind === 'twins' ? `${variant.twinOf}-twin` : name;
    // A mutant runs beside the built-ins and their twins on one target: its id must be its own.
    if (kind === 'mutants' && (!scenarioId.safeParse(id).success || existsSync(join(BUILTIN_DIR, adapter, `${id}.yaml`)) || id.endsWith('-twin'))) {
      throw new Error(`${file}: a mutant's file name must be a scenario id of its own (lower-case, dashes, not a built-in id, not ending in -twin)`);
    }
    const original = readYaml(join(BUILTIN_DIR, adapter, `${variant.twinOf}.yaml`)) as Record<string, unknown>;
    const grant = original.grant as { params?: Record<string, unknown> } | undefined;
    const use = original.use as { params?: Record<string, unknown> } | undefined;
    if (variant.use && !use) throw new Error(`${file}: use.params: ${variant.twinOf} names a native pair; change its params instead`);
    if (variant.grant && !grant) throw new Error(`${file}: grant.params: ${variant.twinOf} names a native pair; change its params instead`);
    if (grant && Object.keys(variant.params).length > 0) throw new Error(`${file}: params: ${variant.twinOf} names its halves apart; change grant.params instead`);
    const raw = {
      ...original,
      id,
      title: `${String(original.title)} — broken: ${variant.broken}`,
      ...(grant ? { grant: { ...grant, params: { ...grant.params, ...variant.grant?.params } } } : { params: { ...(original.params as Record<string, unknown> | undefined), ...variant.params } }),
      ...(use && variant.use ? { use: { ...use, params: { ...use.params, ...variant.use.params } } } : {}),
      ...(variant.end ? { end: variant.end } : {}),
      ...(variant.task ? { task: { ...(original.task as Record<string, unknown>), ...variant.task } } : {}),
    };
    variants.push({
      scenario: await toScenario(raw, file),
      of: variant.twinOf,
      name,
      kind,
      broken: variant.broken,
      failedChecks: variant.expect.failedChecks,
      ...(variant.keeps ? { keeps: variant.keeps } : {}),
    });
  }
  return variants;
}

export function loadTwins(adapter: string): Promise<Twin[]> {
  return loadVariants(adapter, 'twins');
}
