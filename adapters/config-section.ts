/**
 * An adapter's section of the config file (`vault:`, `aws:`, `ldap:`), parsed by the adapter's own
 * schema. Bad input is one line naming the file and the field (`jitc.yaml: vault.adress: unknown
 * key …`), as for every other field of the file.
 */
import type { z } from 'zod';
import { type ProvisionOptions } from './contract.ts';
import { describeIssue, displayPath, InputError } from '../scenarios/input.ts';

export function parseSection<T>(schema: z.ZodType<T>, adapter: string, options: ProvisionOptions): T {
  const parsed = schema.safeParse(options.config);
  if (parsed.success) return parsed.data;
  throw new InputError(options.configFile ? `${displayPath(options.configFile)}: ${describeIssue(parsed.error, adapter)}` : `config ${adapter}: ${describeIssue(parsed.error)}`);
}
