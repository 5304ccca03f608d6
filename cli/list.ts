/**
 * `jitc list`: each scenario as a self-describing record — id, what it proves, its grant source
 * and point of use, and the checks and controls it can produce, as its halves declare them for
 * their own params.
 */
import { ownEntry } from '../adapters/contract.ts';
import { loadAdapters } from '../adapters/registry.ts';
import { declaredChecks } from '../scenarios/engine.ts';
import { loadCatalogue } from '../scenarios/catalogue.ts';
import { inSuites, loadBuiltinScenarios, suitedAdapters } from '../scenarios/load.ts';
import { checkRecords, renderChecksMarkdown } from './checks-doc.ts';
import { answerJsonSchema } from '../adapters/broker/answers.ts';

export async function listCommand(opts: { suite?: string[]; json?: boolean; checks?: boolean; brokerSchema?: boolean }): Promise<number> {
  if (opts.brokerSchema) {
    process.stdout.write(`${JSON.stringify(answerJsonSchema(), null, 2)}\n`);
    return 0;
  }
  if (opts.checks) {
    const records = await checkRecords();
    process.stdout.write(opts.json ? `${JSON.stringify(records, null, 2)}\n` : renderChecksMarkdown(records));
    return 0;
  }
  const adapters = await loadAdapters();
  const scenarios = (await loadBuiltinScenarios()).filter((s) => !opts.suite || inSuites(s, opts.suite, suitedAdapters(adapters.values())));
  const catalogue = loadCatalogue();
  const records = scenarios.map((s) => {
    // Loading the scenario resolved both halves, so they exist.
    const source = ownEntry(adapters.get(s.grant.adapter)!.grantSources, s.grant.name)!;
    const point = ownEntry(adapters.get(s.use.adapter)!.pointsOfUse, s.use.name)!;
    const checks = declaredChecks(s, source, point);
    return {
      id: s.id,
      adapter: s.adapter,
      title: s.title,
      proves: s.proves.replace(/\s+/g, ' ').trim(),
      grant: { adapter: s.grant.adapter, source: s.grant.name },
      pointOfUse: s.use.name,
      ...(s.pair ? { pair: s.pair } : {}),
      severity: s.severity,
      // The group an emergency path belongs to, so a reader sees it apart from routine JIT.
      group: s.breakGlass ? 'break-glass' : 'routine',
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
    process.stdout.write(`${r.adapter}/${r.id}  [${r.severity}]${r.group === 'break-glass' ? '  [break-glass]' : ''}  ${r.title}\n`);
    process.stdout.write(`  ${r.proves}\n`);
    process.stdout.write(`  target: ${adapter?.title ?? r.adapter}; grant: ${r.grant.adapter}/${r.grant.source}; point of use: ${r.adapter}/${r.pointOfUse}; ends by ${r.ends}; window ${r.windowSeconds} s\n`);
    process.stdout.write(`  checks: ${r.checks.join(', ')}\n`);
    process.stdout.write(`  controls: ${r.controls.join(', ')}\n`);
    process.stdout.write(`  file: ${r.file}\n\n`);
  }
  const breakGlass = records.filter((r) => r.group === 'break-glass').length;
  process.stdout.write(`${records.length} scenarios${breakGlass > 0 ? ` (${breakGlass} break-glass: left out of continuous and non-local runs unless --break-glass)` : ''}\n`);
  return 0;
}
