/** The servers a jitc run recorded under `.targets/run/<runId>/`: what `jitc cleanup` stops by pid. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runStateDir, type PidRecord } from '../../adapters/local-process.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

export function serversOfRun(runId: string): PidRecord[] {
  const dir = runStateDir(PROJECT_ROOT, runId);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as PidRecord);
}

/** The run id jitc prints once its targets answer: "jitc run <id>: …". */
export function runIdIn(output: string): string | undefined {
  return /jitc run ([a-z0-9]+): /.exec(output)?.[1];
}

/** Server records written by the jitc process `owner`, in any run (other test files start their own meanwhile). */
export function serversStartedBy(owner: number): PidRecord[] {
  const root = runStateDir(PROJECT_ROOT);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .flatMap((run) => (existsSync(join(root, run)) ? readdirSync(join(root, run)).map((f) => join(root, run, f)) : []))
    .flatMap((file) => {
      try {
        return [JSON.parse(readFileSync(file, 'utf8')) as PidRecord];
      } catch {
        return []; // removed or half-written meanwhile
      }
    })
    .filter((record) => record.owner === owner);
}
