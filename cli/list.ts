/**
 * `jitc list`: each scenario as a self-describing record — id, what it proves, its grant source
 * and point of use, and the checks and controls it can produce, as its halves declare them for
 * their own params. The records come from cli/list-index.ts; this selects and prints them.
 */
import { join } from 'node:path';
import { displayPath, PROJECT_ROOT } from '../scenarios/input.ts';
import { inSuites } from '../adapters/registry.ts';
import { renderChecksMarkdown } from './checks-doc.ts';
import { listIndex } from './list-index.ts';

/** A path kept from the project root, as the user's working directory sees it. */
const shown = (file: string): string => displayPath(join(PROJECT_ROOT, file));

export async function listCommand(opts: { suite?: string[]; json?: boolean; checks?: boolean; brokerSchema?: boolean }): Promise<number> {
  if (opts.brokerSchema) {
    const { answerJsonSchema } = await import('../adapters/broker/answers.ts');
    process.stdout.write(`${JSON.stringify(answerJsonSchema(), null, 2)}\n`);
    return 0;
  }
  const index = await listIndex();
  if (opts.checks) {
    const records = index.checks.map((c) => ({ ...c, examples: c.examples.map(shown) }));
    process.stdout.write(opts.json ? `${JSON.stringify(records, null, 2)}\n` : renderChecksMarkdown(records));
    return 0;
  }
  const suited = new Set(index.adapters.filter((a) => a.suited).map((a) => a.name));
  const records = index.scenarios.filter((r) => !opts.suite || inSuites(r, opts.suite, suited)).map((r) => ({ ...r, file: shown(r.file) }));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
    return 0;
  }
  const titles = new Map(index.adapters.map((a) => [a.name, a.title]));
  for (const r of records) {
    process.stdout.write(`${r.adapter}/${r.id}  [${r.severity}]${r.group === 'break-glass' ? '  [break-glass]' : ''}  ${r.title}\n`);
    process.stdout.write(`  ${r.proves}\n`);
    process.stdout.write(`  target: ${titles.get(r.adapter) ?? r.adapter}; grant: ${r.grant.adapter}/${r.grant.source}; point of use: ${r.adapter}/${r.pointOfUse}; ends by ${r.ends}; window ${r.windowSeconds} s\n`);
    process.stdout.write(`  checks: ${r.checks.join(', ')}\n`);
    process.stdout.write(`  controls: ${r.controls.join(', ')}\n`);
    process.stdout.write(`  file: ${r.file}\n\n`);
  }
  const breakGlass = records.filter((r) => r.group === 'break-glass').length;
  process.stdout.write(`${records.length} scenarios${breakGlass > 0 ? ` (${breakGlass} break-glass: left out of continuous and non-local runs unless --break-glass)` : ''}\n`);
  return 0;
}
