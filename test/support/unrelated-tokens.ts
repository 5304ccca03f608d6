/**
 * Unrelated service tokens on a Vault/OpenBao, created concurrently on the target itself: what a
 * production target holds beside a scenario, for the tests and benchmarks that show a scenario's
 * cost does not grow with it.
 */
import pLimit from 'p-limit';
import type { TargetConnection } from '../../adapters/contract.ts';

/** Create `count` tokens carrying no policy a scenario uses; returns how long it took, ms. */
export async function preloadUnrelatedTokens(connection: TargetConnection, count: number): Promise<number> {
  const limit = pLimit(32);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      limit(async () => {
        const answer = await fetch(`${connection.address}/v1/auth/token/create`, {
          method: 'POST',
          headers: { 'X-Vault-Token': connection.settings.token ?? '' },
          body: JSON.stringify({ policies: ['default'], no_default_policy: true, ttl: '10m', display_name: `unrelated-${i}` }),
        });
        if (!answer.ok) throw new Error(`creating unrelated token ${i}: HTTP ${answer.status}`);
      }),
    ),
  );
  return performance.now() - started;
}
