/**
 * The mutant matrix: for every adapter, broken target setups beyond each scenario's twin
 * (test/mutants/<adapter>/), run against the adapter's real local target. jitc must report every
 * one `fail`, naming the checks its file lists: a mutant reported anything else is a setup that
 * keeps privilege and that the harness would have passed. One target runs at a time, and
 * the mutants on it all at once.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ADAPTERS, type AdapterRun, leakedSecrets, loadSetups, type MatrixSetup, runAdapters } from '../assurance/matrix-run.ts';

/** Each adapter's matrix must hold at least this many mutants beyond its twins. */
const MIN_MUTANTS = 5;

const setups = new Map<string, MatrixSetup[]>();
for (const adapter of ADAPTERS) setups.set(adapter, await loadSetups(adapter, ['mutant']));

const runs = new Map<string, PromiseSettledResult<AdapterRun>>();
function run(adapter: string): AdapterRun {
  const settled = runs.get(adapter);
  if (!settled) return expect.unreachable(`${adapter}: the matrix did not run`);
  if (settled.status === 'rejected') throw settled.reason;
  return settled.value;
}

beforeAll(async () => {
  const settled = await runAdapters(ADAPTERS, (adapter) => setups.get(adapter) ?? []);
  ADAPTERS.forEach((adapter, i) => runs.set(adapter, settled[i]!));
}, 480_000);

afterAll(() => {
  for (const [adapter, settled] of runs) {
    if (settled.status === 'fulfilled') console.log(`[mutants] ${adapter}: ${settled.value.rows.length} mutants in ${(settled.value.wallMs / 1000).toFixed(1)} s (target start included)`);
  }
});

for (const adapter of ADAPTERS) {
  describe(`${adapter} mutants against the real local target`, () => {
    test(`${adapter} has at least ${MIN_MUTANTS} mutants beyond its twins`, () => {
      expect(setups.get(adapter)?.length ?? 0).toBeGreaterThanOrEqual(MIN_MUTANTS);
    });

    for (const setup of setups.get(adapter) ?? []) {
      test(`${setup.scenario.id} — ${setup.broken} — is reported fail on ${setup.mustFail.join(', ')}`, () => {
        const row = run(adapter).rows.find((r) => r.id === setup.scenario.id);
        const result = run(adapter).results.find((r) => r.id === setup.scenario.id);
        const summary = (result?.checks ?? []).map((c) => `${c.name}=${c.verdict}: ${c.detail}`).join('\n');
        expect(row?.outcome, `${row?.note}\n${summary}`).toBe('caught');
      });
    }

    test('the harness leaves nothing of its own on the target', () => {
      expect(run(adapter).leftovers).toEqual({ removed: [], failed: [] });
    });

    test('what a broken broker kept under its run id is swept by jitc cleanup without a failure', () => {
      expect(run(adapter).keptByBrokers.failed).toEqual([]);
    });

    test('no secret value appears in any result', () => {
      expect(run(adapter).secrets.size).toBeGreaterThan(0);
      expect(leakedSecrets(run(adapter))).toBe(0);
    });
  });
}
