/** One connected target as the engine takes it (keyed by adapter name), for tests that run scenarios directly. */
import type { Adapter, TargetConnection } from '../../adapters/contract.ts';
import type { BoundTarget } from '../../scenarios/engine.ts';

export function targetsOf<C>(target: { adapter: Adapter<C>; client: C; connection: TargetConnection }): Record<string, BoundTarget> {
  // The engine hands each half the client of its own adapter, so erasing C here loses nothing.
  return { [target.adapter.name]: { adapter: target.adapter as unknown as Adapter, client: target.client, connection: target.connection } };
}
