/**
 * Scenario files (the `--scenario-file` format) that wait for an expiry long enough for a test to
 * interrupt every adapter while it waits. They are the built-in expiry scenarios of each adapter
 * with a longer TTL and approval window; everything else — mechanism, checks, what they create on
 * the target — is the built-in's, so an interrupted or killed run leaves what a real one would.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { BUILTIN_DIR } from '../../scenarios/load.ts';

interface LongWait {
  adapter: string;
  builtin: string;
  /** The params field holding the grant's lifetime. */
  ttlParam: string;
}

const LONG_WAITS: LongWait[] = [
  { adapter: 'vault', builtin: 'token-ttl-expiry', ttlParam: 'ttlSeconds' },
  { adapter: 'aws', builtin: 'sts-assume-role-expiry', ttlParam: 'durationSeconds' },
  { adapter: 'ldap', builtin: 'dynamic-account-ttl', ttlParam: 'ttlSeconds' },
];

export interface LongWaitScenario {
  adapter: string;
  id: string;
  file: string;
  /** What the run prints while it waits for this scenario's expiry. */
  waitingLine: RegExp;
}

/** Write one long-wait scenario per adapter into `dir`. */
export function writeLongWaitScenarios(dir: string, seconds: number): LongWaitScenario[] {
  return LONG_WAITS.map(({ adapter, builtin, ttlParam }) => {
    const scenario = parse(readFileSync(join(BUILTIN_DIR, adapter, `${builtin}.yaml`), 'utf8')) as {
      id: string;
      title: string;
      params: Record<string, unknown>;
      task: Record<string, unknown>;
    };
    const id = `long-${builtin}`;
    scenario.id = id;
    scenario.title = `${scenario.title} (${seconds} s)`;
    scenario.params[ttlParam] = seconds;
    scenario.task.windowSeconds = seconds;
    const file = join(dir, `${adapter}-${id}.yaml`);
    writeFileSync(file, stringify(scenario));
    return { adapter, id, file, waitingLine: new RegExp(`waiting: ${adapter}/${id}: `) };
  });
}
