/**
 * A broker is not a target jitc starts or reaches: its hooks are run per scenario. Every mode
 * yields the same empty connection, so a scenario naming a broker brings up only its point of
 * use's target. Its external mode says nothing about being configured: there is nothing to name,
 * and what its hooks created lives on the point of use's target, whose own sweep removes it.
 */
import type { TargetConnection, TargetMode, TargetProvisioning } from '../contract.ts';

function connection(mode: TargetMode): TargetConnection {
  return { adapter: 'broker', mode, address: 'hooks named by each scenario', settings: {}, secretSettings: [], facts: { product: "the user's own broker", mode } };
}

export const brokerTargets: TargetProvisioning = {
  local: { requirements: { commands: [] }, start: async () => ({ connection: connection('local'), stop: async () => undefined }) },
  container: { start: async () => ({ connection: connection('container'), stop: async () => undefined }) },
  external: { connect: async () => connection('external') },
};
