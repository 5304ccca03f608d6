/**
 * The config file (--config): run defaults and per-adapter target settings, validated whole, in
 * every target mode, before anything starts. Secrets are never read from it: adapters take them
 * from environment variables it names, and a key that looks like it holds a secret is refused.
 */
import { z } from 'zod';
import { TARGET_MODES, type TargetMode } from '../adapters/contract.ts';
import { adapterNames, loadAdapters } from '../adapters/registry.ts';
import { InputError, describeIssue, displayPath, readYaml } from '../scenarios/input.ts';
import { DEFAULT_POLICY, MAX_CONCURRENCY } from './defaults.ts';

const policySchema = z.strictObject({
  /** Longest approval window the organisation allows: a role letting a grant live longer fails `role-within-window`. */
  maxWindowSeconds: z.number().int().min(1).default(DEFAULT_POLICY.maxWindowSeconds),
  /** Longest a generated scenario may wait for its grant to expire; longer ones are written opt-in. */
  maxWaitSeconds: z.number().int().min(1).default(DEFAULT_POLICY.maxWaitSeconds),
});

const configSchema = z
  .object({
    target: z.enum(TARGET_MODES as unknown as [TargetMode, ...TargetMode[]]).optional(),
    out: z.string().min(1).optional(),
    suites: z.array(z.string().min(1)).min(1).optional(),
    scenarios: z.array(z.string().min(1)).optional(),
    concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).optional(),
    waivers: z.string().min(1).optional(),
    /** Run history file (SQLite); see cli/history.ts. */
    history: z.string().min(1).optional(),
    /** Gate policy: failures matching any rule fail the run; see reports/gate.ts. */
    gate: z.strictObject({ failOn: z.array(z.string().min(1)).min(1) }).optional(),
    /** The bounds `jitc discover` judges existing roles by; see cli/discover.ts. */
    policy: policySchema.optional(),
  })
  // Per-adapter sections (one key per adapter name) are validated by the adapters' own schemas (loadRunConfig).
  .catchall(z.record(z.string(), z.unknown()));

export type Config = z.infer<typeof configSchema>;

/**
 * Key names that hold a secret value: token, password, secret, secret_id, secretAccessKey,
 * privateKey, apiKey, clientSecret… compared without case, `_` or `-`, by how the name ends, so
 * `tokenEnv`, `passwordEnv` (the name of a variable), `keyFile` (a path) and `passwordAttribute`
 * (a directory attribute's name) stay allowed.
 */
const SECRET_KEY = /(token|tokens|password|passwd|pwd|passphrase|secret|secrets|secretid|secretkey|secretaccesskey|privatekey|apikey|credential|credentials)$/;
/** A key naming the environment variable that holds a secret must hold a variable's name, not the secret. */
const ENV_KEY = /env$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The first secret-looking key at any depth, as a dotted path; or a `…Env` key whose value is no variable name. */
function secretKey(value: unknown, path: string[] = []): { path: string; why: string } | undefined {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = secretKey(item, [...path, String(i)]);
      if (found) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const name = key.toLowerCase().replace(/[_-]/g, '');
    const at = [...path, key].join('.');
    if (SECRET_KEY.test(name)) return { path: at, why: `looks like a secret; secrets are never read from a file: put it in an environment variable and name that variable (e.g. ${key}Env)` };
    if (ENV_KEY.test(name) && (typeof inner !== 'string' || !ENV_NAME.test(inner))) return { path: at, why: 'must be the name of an environment variable (letters, digits, _), never the secret itself' };
    const found = secretKey(inner, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

/** The file's own fields and the secret rule: everything that can be checked without loading the adapters. */
export function loadConfig(file: string | undefined): Config {
  if (!file) return {};
  const raw = readYaml(file) ?? {};
  const secret = secretKey(raw);
  if (secret) throw new InputError(`${displayPath(file)}: ${secret.path}: ${secret.why}`);
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

/**
 * The whole file, adapter sections included, whatever the target mode: a typo in an adapter's section is found
 * on a local run too, not first on the day the run goes external.
 */
export async function loadRunConfig(file: string | undefined): Promise<Config> {
  const config = loadConfig(file);
  if (!file) return config;
  for (const adapter of (await loadAdapters()).values()) {
    const section = config[adapter.name];
    const schema = adapter.targets.configSection;
    if (section === undefined || schema === undefined) continue;
    const parsed = schema.safeParse(section);
    if (!parsed.success) throw new InputError(`${displayPath(file)}: ${describeIssue(parsed.error, adapter.name)}`);
  }
  return config;
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
