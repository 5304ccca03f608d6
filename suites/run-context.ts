/**
 * What the CLI hands to the suites it runs under vitest: the run id, where to write, the targets'
 * connections and the waivers in force. It travels in one environment variable: suites run in
 * worker threads of the CLI process, which share its environment and nothing else.
 */
import type { TargetConnection } from '../adapters/contract.ts';
import type { Waiver } from '../reports/waivers.ts';

export const RUN_ENV = 'JITC_RUN';

export interface RunContext {
  runId: string;
  startedAt: string;
  outDir: string;
  /** One connection per adapter taking part in the run. */
  connections: Record<string, TargetConnection>;
  /** Scenarios to run, as `adapter/id` (one id can name a scenario in two suites); empty runs every built-in scenario of the suite. */
  scenarios: string[];
  /** Scenario files given on the command line, run beside the built-in ones. */
  scenarioFiles: string[];
  waivers: Waiver[];
}

export function readRunContext(): RunContext | undefined {
  const raw = process.env[RUN_ENV];
  return raw ? (JSON.parse(raw) as RunContext) : undefined;
}
