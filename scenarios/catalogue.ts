/**
 * The control catalogue (scenarios/controls.yaml), parsed once and validated: every check id the
 * harness can emit is declared there with its controls, and every control it names exists.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { PROJECT_ROOT } from './input.ts';

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

const controlSchema = z.object({
  framework: z.string(),
  title: z.string(),
  text: z.string(),
  why: z.string(),
  url: z.url(),
});

const checkSchema = z.object({
  title: z.string(),
  severity: z.enum(SEVERITIES),
  meaning: z.string(),
  /** What to change on the target when the check fails, in general terms; a half may declare its own, in its target's terms. */
  remediation: z.string().min(10),
  controls: z.array(z.string()).min(1),
});

const catalogueSchema = z
  .object({
    version: z.number().int(),
    controls: z.record(z.string(), controlSchema),
    checks: z.record(z.string(), checkSchema),
  })
  .superRefine((cat, ctx) => {
    for (const [id, check] of Object.entries(cat.checks)) {
      for (const control of check.controls) {
        if (!(control in cat.controls)) {
          ctx.addIssue({ code: 'custom', path: ['checks', id, 'controls'], message: `unknown control "${control}"` });
        }
      }
    }
  });

export type Control = z.infer<typeof controlSchema> & { id: string };
export type CheckDefinition = z.infer<typeof checkSchema> & { id: string };

export interface Catalogue {
  version: number;
  controls: Map<string, Control>;
  checks: Map<string, CheckDefinition>;
}

export const CATALOGUE_PATH = join(PROJECT_ROOT, 'scenarios', 'controls.yaml');

let cached: Catalogue | undefined;

export function loadCatalogue(): Catalogue {
  if (cached) return cached;
  const parsed = catalogueSchema.parse(parse(readFileSync(CATALOGUE_PATH, 'utf8')));
  cached = {
    version: parsed.version,
    controls: new Map(Object.entries(parsed.controls).map(([id, c]) => [id, { id, ...c }])),
    checks: new Map(Object.entries(parsed.checks).map(([id, c]) => [id, { id, ...c }])),
  };
  return cached;
}

export function checkDefinition(id: string): CheckDefinition {
  const check = loadCatalogue().checks.get(id);
  if (!check) throw new Error(`check "${id}" is not in the control catalogue (${CATALOGUE_PATH})`);
  return check;
}
