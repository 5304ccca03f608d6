/**
 * `jitc list`: each scenario as a self-describing record — id, what it proves, adapter, and the
 * checks and controls it can produce, as its mechanism declares them for its own params.
 */
import { LIFECYCLE_CHECKS, mechanismOf } from '../adapters/contract.ts';
import { loadAdapters } from '../adapters/registry.ts';
import { loadCatalogue } from '../scenarios/catalogue.ts';
import { loadBuiltinScenarios } from '../scenarios/load.ts';

export async function listCommand(opts: { suite?: string[]; json?: boolean }): Promise<number> {
  const adapters = await loadAdapters();
  const scenarios = await loadBuiltinScenarios(opts.suite ?? []);
  const catalogue = loadCatalogue();
  const records = scenarios.map((s) => {
    const adapter = adapters.get(s.adapter);
    const mechanism = adapter ? mechanismOf(adapter, s.mechanism) : undefined;
    // The engine's own checks (privilege-width only with limits), then the mechanism's.
    const checks = [...new Set([...LIFECYCLE_CHECKS, ...(s.limits ? ['privilege-width'] : []), ...(mechanism?.checks(s.params) ?? [])])];
    return {
      id: s.id,
      adapter: s.adapter,
      title: s.title,
      proves: s.proves.replace(/\s+/g, ' ').trim(),
      mechanism: s.mechanism,
      severity: s.severity,
      ends: s.end.mode,
      windowSeconds: s.task.windowSeconds,
      checks,
      controls: [...new Set(checks.flatMap((c) => catalogue.checks.get(c)?.controls ?? []))].sort(),
      file: s.source,
    };
  });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
    return 0;
  }
  for (const r of records) {
    const adapter = adapters.get(r.adapter);
    process.stdout.write(`${r.adapter}/${r.id}  [${r.severity}]  ${r.title}\n`);
    process.stdout.write(`  ${r.proves}\n`);
    process.stdout.write(`  target: ${adapter?.title ?? r.adapter}; mechanism: ${r.mechanism}; ends by ${r.ends}; window ${r.windowSeconds} s\n`);
    process.stdout.write(`  checks: ${r.checks.join(', ')}\n`);
    process.stdout.write(`  controls: ${r.controls.join(', ')}\n`);
    process.stdout.write(`  file: ${r.file}\n\n`);
  }
  process.stdout.write(`${records.length} scenarios\n`);
  return 0;
}
