/**
 * `npm run assurance`: run every conformant built-in scenario, every broken twin and every mutant
 * against the three real local targets (all at once), print the matrix's totals, and write
 * docs/assurance.md. Exits 1 when the matrix does not hold (a broken setup not caught, a conformant
 * setup failing beyond its documented local gap, something left on a target), 0 otherwise; the
 * document is written either way, so a failure is on record too.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { matrixHolds, renderAssurance, totals } from './matrix-doc.ts';
import { leakedSecrets, runMatrix } from './matrix-run.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const OUT = join(PROJECT_ROOT, 'docs', 'assurance.md');

const started = Date.now();
const runs = await runMatrix(['conformant', 'twin', 'mutant']);
const wallMs = Date.now() - started;

const leaks = runs.map((r) => ({ adapter: r.adapter, leaked: leakedSecrets(r) })).filter((r) => r.leaked > 0);
if (leaks.length > 0) {
  // Never write a document from results that hold a secret value.
  console.error(`secret values found in results: ${leaks.map((l) => `${l.adapter} (${l.leaked})`).join(', ')}; docs/assurance.md not written`);
  process.exit(1);
}

mkdirSync(join(PROJECT_ROOT, 'docs'), { recursive: true });
writeFileSync(OUT, renderAssurance(runs, { generatedAt: new Date(), command: 'npm run assurance', wallMs }));

const t = totals(runs);
for (const row of runs.flatMap((r) => r.rows).filter((r) => r.outcome === 'missed' || r.outcome === 'unexpected')) {
  console.log(`${row.outcome.toUpperCase()} ${row.adapter}/${row.id}: ${row.note}`);
}
console.log(
  `mutants caught ${t.mutantsCaught}/${t.mutants}, twins caught ${t.twinsCaught}/${t.twins}, conformant ${t.conformantPassed} pass + ${t.knownGaps} known local gaps + ${t.conformantUnexpected} failing beyond them; ${(wallMs / 1000).toFixed(1)} s`,
);
console.log(`wrote ${OUT}`);
process.exit(matrixHolds(t, runs) ? 0 : 1);
