/**
 * `jitc verify DIR [--key PUBLIC_KEY_PEM]`: checks that a run's output dir is as it was sealed.
 * Tampering is a finding, so it exits 1 like a failed check; bad input (no such dir, not a run dir,
 * unreadable key) exits 2 through the CLI's InputError handling. Entries jitc did not write are
 * listed as foreign, with their kind; FIFOs, sockets, devices and links are never opened.
 */
import { resolve } from 'node:path';
import { verifyRun } from '../reports/ledger/ledger.ts';

export interface VerifyFlags {
  key?: string;
}

export function verifyCommand(dir: string, flags: VerifyFlags, print: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): 0 | 1 {
  const report = verifyRun(resolve(dir), { key: flags.key });
  // Foreign entries are not part of the run (never sealed, never read): listed apart, not a finding.
  const foreign = (): void => {
    if (report.foreign.length > 0) print(`  foreign (not written by jitc, not sealed, never read): ${report.foreign.join(', ')}`);
  };
  if (report.problems.length === 0) {
    print(`jitc verify ${report.dir}: INTACT`);
    for (const note of report.notes) print(`  ${note}`);
    foreign();
    return 0;
  }
  print(`jitc verify ${report.dir}: TAMPERED (${report.problems.length} problem${report.problems.length === 1 ? '' : 's'})`);
  for (const p of report.problems) print(`  ${p.subject}: ${p.problem}`);
  foreign();
  return 1;
}
