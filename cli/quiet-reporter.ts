/**
 * The vitest reporter of `jitc run`: silent about tests (the CLI prints its own table from the
 * evidence files) but loud about anything that kept a suite from running at all.
 */
import type { Reporter, TestModule } from 'vitest/node';

export class QuietReporter implements Reporter {
  readonly problems: string[] = [];

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<{ message?: string }>): void {
    for (const module of testModules) {
      for (const error of module.errors()) this.problems.push(`${module.moduleId}: ${error.message}`);
    }
    for (const error of unhandledErrors) this.problems.push(`unhandled: ${error.message ?? String(error)}`);
  }
}
