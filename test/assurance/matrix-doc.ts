/**
 * docs/assurance.md from a matrix run: the totals a reviewer checks first (mutants caught, conformant
 * setups failing beyond the local targets' documented gaps), the targets and their versions, then
 * every setup with its verdict and failed checks. Pure: the run happens elsewhere.
 */
import { ADAPTERS_AT_ONCE, type AdapterRun, type MatrixRow, type Outcome, type SetupKind } from './matrix-run.ts';

export interface MatrixTotals {
  mutants: number;
  mutantsCaught: number;
  twins: number;
  twinsCaught: number;
  conformant: number;
  conformantPassed: number;
  knownGaps: number;
  /** Conformant setups failing (or inconclusive) beyond a documented gap: must be 0. */
  conformantUnexpected: number;
}

export function totals(runs: readonly AdapterRun[]): MatrixTotals {
  const rows = runs.flatMap((r) => r.rows);
  const count = (kind: SetupKind, outcome?: Outcome): number => rows.filter((r) => r.kind === kind && (outcome === undefined || r.outcome === outcome)).length;
  return {
    mutants: count('mutant'),
    mutantsCaught: count('mutant', 'caught'),
    twins: count('twin'),
    twinsCaught: count('twin', 'caught'),
    conformant: count('conformant'),
    conformantPassed: count('conformant', 'pass'),
    knownGaps: count('conformant', 'known-gap'),
    conformantUnexpected: count('conformant', 'unexpected'),
  };
}

/** The matrix holds: every broken setup caught, no conformant setup failing beyond its documented gap, nothing left, nothing leaked. */
export function matrixHolds(t: MatrixTotals, runs: readonly AdapterRun[]): boolean {
  const clean = runs.every((r) => r.leftovers.removed.length === 0 && r.leftovers.failed.length === 0);
  return t.mutantsCaught === t.mutants && t.twinsCaught === t.twins && t.conformantUnexpected === 0 && clean;
}

const percent = (part: number, whole: number): string => (whole === 0 ? 'n/a' : `${((100 * part) / whole).toFixed(part === whole || part === 0 ? 0 : 1)} %`);
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (names: readonly string[]): string => (names.length === 0 ? '—' : names.map((n) => `\`${n}\``).join(', '));
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

const OUTCOME_TEXT: Record<Outcome, string> = {
  caught: 'caught',
  missed: '**MISSED**',
  pass: 'pass',
  'known-gap': 'known gap of the local target',
  unexpected: '**FAILS: not a known gap**',
};

function rowLine(row: MatrixRow, gapNote: (row: MatrixRow) => string): string {
  const what = row.kind === 'conformant' ? 'conformant built-in scenario' : row.broken ?? '';
  const outcome =
    row.outcome === 'known-gap'
      ? `${OUTCOME_TEXT[row.outcome]}${gapNote(row)}`
      : row.outcome === 'missed' || row.outcome === 'unexpected'
        ? `${OUTCOME_TEXT[row.outcome]}: ${cell(row.note)}`
        : OUTCOME_TEXT[row.outcome];
  const extra = row.inconclusiveChecks.length > 0 ? ` (inconclusive: ${code(row.inconclusiveChecks)})` : '';
  return `| \`${row.id}\` | ${row.kind} | \`${row.of}\` | ${cell(what)} | ${row.verdict} | ${code(row.failedChecks)}${extra} | ${code(row.mustFail)} | ${outcome} |`;
}

export interface DocOptions {
  generatedAt: Date;
  command: string;
  wallMs: number;
}

export function renderAssurance(runs: readonly AdapterRun[], options: DocOptions): string {
  const t = totals(runs);
  const gaps = runs.flatMap((r) => r.rows).filter((r) => r.outcome === 'known-gap');
  const gapNote = (row: MatrixRow): string => ` [^${gaps.indexOf(row) + 1}]`;
  const lines: string[] = [
    '# Assurance: jitc never passes a target that keeps privilege',
    '',
    `Generated ${options.generatedAt.toISOString().replace(/\.\d+Z$/, 'Z')} by \`${options.command}\` ` +
      '([`test/assurance/matrix.mts`](../test/assurance/matrix.mts)) against the embedded local targets, ' +
      `in ${seconds(options.wallMs)} on ${runs.length} targets, ${ADAPTERS_AT_ONCE} at a time. Written by the script: run it again rather than editing this file.`,
    '',
    'Every row is one target setup taken through jitc\'s whole lifecycle (baseline, grant, use, end, reuse, residue, ' +
      'teardown) against a real server. A **broken** setup — each built-in scenario\'s twin ' +
      '([`test/twins/`](../test/twins)) and the further mutants ([`test/mutants/`](../test/mutants)) — keeps privilege ' +
      'somewhere, and must come out `fail` naming the checks its file lists; one that does not is a defect of the harness. ' +
      'A **conformant** setup (the built-in scenarios themselves) must `pass`, except where the local emulator itself does ' +
      'not enforce what the scenario proves: those documented gaps ([`waivers/local.yaml`](../waivers/local.yaml)) are ' +
      'shown as such, never hidden. The mutants are also a test ([`test/integration/mutants.test.ts`](../test/integration/mutants.test.ts)) ' +
      'that fails when any of them is not caught.',
    '',
    '## Result',
    '',
    '| setups | count | as they must be | rate |',
    '|---|---:|---|---:|',
    `| mutants (broken, beyond the twins) | ${t.mutants} | ${t.mutantsCaught} caught | ${percent(t.mutantsCaught, t.mutants)} caught |`,
    `| twins (broken, one per built-in scenario) | ${t.twins} | ${t.twinsCaught} caught | ${percent(t.twinsCaught, t.twins)} caught |`,
    `| conformant built-in scenarios | ${t.conformant} | ${t.conformantPassed} pass, ${t.knownGaps} known gaps of the local target | ${t.conformantUnexpected} failing beyond the known gaps (${percent(t.conformantUnexpected, t.conformant)}) |`,
    '',
    matrixHolds(t, runs)
      ? `**The matrix holds**: every broken setup is reported \`fail\` on the checks it names, and no conformant setup fails beyond the local targets' documented gaps.`
      : '**The matrix does NOT hold**: see the rows marked in bold below.',
    '',
    '## Targets',
    '',
    '| adapter | product | version | mode | setups | wall time (target start included) | left on the target after teardown |',
    '|---|---|---|---|---:|---:|---|',
    ...runs.map((r) => {
      const left = [...r.leftovers.removed, ...r.leftovers.failed.map((f) => `could not remove ${f}`)];
      return `| ${r.adapter} | ${cell(r.facts.product ?? '?')} | ${cell(r.facts.version ?? '?')} | ${cell(r.facts.mode ?? 'local')} | ${r.rows.length} | ${seconds(r.wallMs)} | ${left.length === 0 ? 'nothing' : cell(left.join('; '))} |`;
    }),
    '',
    '## Matrix',
  ];
  for (const run of runs) {
    const order: Record<SetupKind, number> = { mutant: 0, twin: 1, conformant: 2 };
    const rows = [...run.rows].sort((a, b) => order[a.kind] - order[b.kind] || a.id.localeCompare(b.id));
    lines.push(
      '',
      `### ${run.adapter}`,
      '',
      '| setup | kind | base scenario | broken setup | verdict | failed checks | must fail | outcome |',
      '|---|---|---|---|---|---|---|---|',
      ...rows.map((row) => rowLine(row, gapNote)),
    );
  }
  if (gaps.length > 0) {
    lines.push('', '## Known gaps of the local targets', '');
    gaps.forEach((row, i) => lines.push(`[^${i + 1}]: ${row.adapter}/${row.id}, ${cell(row.note)}`));
  }
  lines.push('');
  return lines.join('\n');
}
