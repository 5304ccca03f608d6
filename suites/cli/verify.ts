/**
 * `jitc verify DIR [--key PUBLIC_KEY_PEM]`: checks that a run's output dir is as it was sealed.
 * Tampering is a finding, so it exits 1 like a failed check; bad input (no such dir, not a run dir,
 * unreadable key) exits 2 through the CLI's InputError handling.
 */
import { resolve } from 'node:path';
import { verifyRun } from '../../reports/ledger.ts';

export interface VerifyFlags {
  key?: string;
}

export function verifyCommand(dir: string, flags: VerifyFlags, print: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): 0 | 1 {
  const report = verifyRun(resolve(dir), { key: flags.key });
  if (report.problems.length === 0) {
    print(`jitc verify ${report.dir}: INTACT`);
    for (const note of report.notes) print(`  ${note}`);
    return 0;
  }
  print(`jitc verify ${report.dir}: TAMPERED (${report.problems.length} problem${report.problems.length === 1 ? '' : 's'})`);
  for (const p of report.problems) print(`  ${p.subject}: ${p.problem}`);
  return 1;
}
