/**
 * The config file (--config): run defaults and per-adapter target settings, validated once.
 * Secrets are never read from it: adapters take them from environment variables it names.
 */
import { z } from 'zod';
import { InputError, TARGET_MODES, type TargetMode } from '../../adapters/contract.ts';
import { adapterNames } from '../../adapters/registry.ts';
import { describeIssue, displayPath, readYaml } from '../../scenarios/load.ts';

const configSchema = z
  .object({
    target: z.enum(TARGET_MODES as unknown as [TargetMode, ...TargetMode[]]).optional(),
    out: z.string().min(1).optional(),
    suites: z.array(z.string().min(1)).min(1).optional(),
    scenarios: z.array(z.string().min(1)).optional(),
    concurrency: z.number().int().min(1).max(64).optional(),
    waivers: z.string().min(1).optional(),
    /** Run history file (SQLite); see suites/cli/history.ts. */
    history: z.string().min(1).optional(),
    /** Gate policy: failures matching any rule fail the run; see reports/gate.ts. */
    gate: z.strictObject({ failOn: z.array(z.string().min(1)).min(1) }).optional(),
  })
  // Per-adapter sections (vault:, aws:, ldap:) are validated by the adapters themselves.
  .catchall(z.record(z.string(), z.unknown()));

export type Config = z.infer<typeof configSchema>;

export function loadConfig(file: string | undefined): Config {
  if (!file) return {};
  const raw = readYaml(file) ?? {};
  if (typeof raw === 'object' && !Array.isArray(raw)) {
    // Only adapters have sections: any other key is a typo (`gaet:`) that would silently drop a setting.
    const known = [...Object.keys(configSchema.shape), ...adapterNames()];
    const unknown = Object.keys(raw).find((key) => !known.includes(key));
    if (unknown !== undefined) throw new InputError(`${displayPath(file)}: ${unknown}: unknown key "${unknown}" (a typo? known: ${known.join(', ')})`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(`${displayPath(file)}: ${describeIssue(parsed.error)}`);
  return parsed.data;
}

/** The per-adapter sections of a config. */
export function adapterSections(config: Config, adapters: string[]): Record<string, Record<string, unknown>> {
  const sections: Record<string, Record<string, unknown>> = {};
  for (const name of adapters) {
    const section = config[name];
    if (section !== undefined && typeof section === 'object' && !Array.isArray(section)) sections[name] = section as Record<string, unknown>;
  }
  return sections;
}
