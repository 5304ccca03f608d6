/**
 * The reference HTTP broker's cases: the example scenario (examples/brokers/http/scenario.yaml)
 * conformant in both end modes, and once per defect with the checks that defect must fail. Shared
 * by the broker's integration test and the assurance matrix, so both hold the broker to the same.
 */
import { join } from 'node:path';
import { type Defect, startHttpBroker } from '../../examples/brokers/http/server.ts';
import { PROJECT_ROOT, readYaml } from '../../scenarios/input.ts';
import { toScenario } from '../../scenarios/load.ts';
import type { EndSpec, Scenario } from '../../scenarios/schema.ts';

export const EXAMPLE_FILE = join(PROJECT_ROOT, 'examples', 'brokers', 'http', 'scenario.yaml');

const REVOKE: EndSpec = { mode: 'revoke' };
const EXPIRE: EndSpec = { mode: 'expire', graceSeconds: 1 };

export interface HttpBrokerCase {
  id: string;
  defect?: Defect;
  end: EndSpec;
  windowSeconds: number;
  /** Checks that must fail; none: the scenario must pass. */
  mustFail: string[];
}

/** Defects that only show at a revocation run in revoke mode with a 30-second window; the others wait for a 5-second window to expire. */
export const HTTP_BROKER_CASES: readonly HttpBrokerCase[] = [
  { id: 'http-broker-revoke', end: REVOKE, windowSeconds: 30, mustFail: [] },
  // The conformant expiry gets room for the approval's delay and the first use when fifty setups share two cores.
  { id: 'http-broker-expire', end: EXPIRE, windowSeconds: 10, mustFail: [] },
  { id: 'http-broker-forgets-to-end', defect: 'forgets-to-end', end: REVOKE, windowSeconds: 30, mustFail: ['reuse-denied', 'broker-end-honoured'] },
  { id: 'http-broker-says-revoked', defect: 'says-revoked', end: REVOKE, windowSeconds: 30, mustFail: ['broker-end-honoured', 'reuse-denied'] },
  { id: 'http-broker-grants-longer', defect: 'grants-longer', end: EXPIRE, windowSeconds: 5, mustFail: ['broker-expiry-within-window', 'ttl-bounded'] },
  { id: 'http-broker-durable', defect: 'durable', end: EXPIRE, windowSeconds: 5, mustFail: ['ttl-bounded', 'broker-expiry-within-window', 'reuse-denied'] },
  { id: 'http-broker-renews-without-approval', defect: 'renews-without-approval', end: EXPIRE, windowSeconds: 5, mustFail: ['renewal-needs-approval'] },
  { id: 'http-broker-same-credential', defect: 'same-credential', end: EXPIRE, windowSeconds: 5, mustFail: ['unique-credential'] },
  { id: 'http-broker-understated-expiry', defect: 'understated-expiry', end: EXPIRE, windowSeconds: 5, mustFail: ['broker-expiry-honoured'] },
];

/** The example scenario for one case, pointed at a running broker. */
export async function httpBrokerScenario(c: HttpBrokerCase, url: string): Promise<Scenario> {
  const example = readYaml(EXAMPLE_FILE) as Record<string, unknown> & { grant: { params: Record<string, unknown> }; task: Record<string, unknown> };
  return toScenario(
    {
      ...example,
      id: c.id,
      title: `${String(example.title)}${c.defect ? ` — broken: ${c.defect}` : ''}`,
      grant: { ...example.grant, params: { ...example.grant.params, url } },
      task: { ...example.task, windowSeconds: c.windowSeconds },
      end: c.end,
    },
    EXAMPLE_FILE,
  );
}

/** Start the broker for one case against a Vault, and its scenario; the bearer token is read from `bearerEnv`, which the example names. */
export async function startHttpBrokerCase(c: HttpBrokerCase, vault: { address: string; token: string }): Promise<{ scenario: Scenario; stop(): Promise<void> }> {
  const example = readYaml(EXAMPLE_FILE) as { grant: { params: { auth: { bearerEnv: string } } } };
  const bearerToken = process.env[example.grant.params.auth.bearerEnv];
  if (!bearerToken) throw new Error(`set ${example.grant.params.auth.bearerEnv} before starting the reference HTTP broker`);
  const broker = await startHttpBroker({ vaultAddress: vault.address, vaultToken: vault.token, bearerToken, ...(c.defect ? { defect: c.defect } : {}) });
  return { scenario: await httpBrokerScenario(c, broker.url), stop: () => broker.stop() };
}
