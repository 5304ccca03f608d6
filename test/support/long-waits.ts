/**
 * Scenario files (the `--scenario-file` format) that wait for an expiry long enough for a test to
 * interrupt every adapter while it waits. They are the built-in expiry scenarios each adapter
 * declares (`longWait`) with a longer TTL and approval window; everything else — mechanism, checks, what they create on
 * the target — is the built-in's, so an interrupted or killed run leaves what a real one would.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadAdapters } from '../../adapters/registry.ts';
import { BUILTIN_DIR } from '../../scenarios/load.ts';

/** The servers a local run of every adapter starts, one each, by the names their pid records carry. */
export const LOCAL_SERVERS = ['bao', 'keycloak', 'moto_server', 'postgres', 'slapd', 'sshd'];

/** The adapters whose external targets test/support/own-targets.ts starts: only their long waits run in external mode. */
export const EXTERNAL = ['vault', 'aws', 'ldap'];

export interface LongWaitScenario {
  adapter: string;
  id: string;
  file: string;
  /** What the run prints while it waits for this scenario's expiry. */
  waitingLine: RegExp;
}

/** Write one long-wait scenario per adapter into `dir`, from the built-in expiry scenario each adapter declares (`longWait`). */
export async function writeLongWaitScenarios(dir: string, seconds: number): Promise<LongWaitScenario[]> {
  // Adapters that only grant (a broker) have no suite of their own, so nothing of theirs waits.
  const adapters = [...(await loadAdapters()).values()].flatMap(({ name, longWait }) => (longWait ? [{ name, longWait }] : []));
  return adapters.map(({ name: adapter, longWait: { scenario: builtin, ttlParam } }) => {
    const scenario = parse(readFileSync(join(BUILTIN_DIR, adapter, `${builtin}.yaml`), 'utf8')) as {
      id: string;
      title: string;
      params?: Record<string, unknown>;
      /** A scenario that names its halves apart holds the grant's lifetime in its grant source's params. */
      grant?: { params: Record<string, unknown> };
      task: Record<string, unknown>;
    };
    const id = `long-${builtin}`;
    scenario.id = id;
    scenario.title = `${scenario.title} (${seconds} s)`;
    const params = scenario.grant?.params ?? scenario.params;
    if (!params) throw new Error(`${adapter}/${builtin}: no params hold ${ttlParam}`);
    params[ttlParam] = seconds;
    scenario.task.windowSeconds = seconds;
    const file = join(dir, `${adapter}-${id}.yaml`);
    writeFileSync(file, stringify(scenario));
    return { adapter, id, file, waitingLine: new RegExp(`waiting: ${adapter}/${id}: `) };
  });
}
