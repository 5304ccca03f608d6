/**
 * `jitc list`'s records, kept beside the compiled command line (dist/list-index.json) so that a
 * start does not load every adapter's client libraries and parse every scenario file to print what
 * the last start printed: that cost most of a second, where reading the kept copy costs milliseconds.
 *
 * The copy is used only while it is certainly what the declarations make today. It records a digest
 * of every file it was made from (built-in scenarios, examples, the control catalogue: content and
 * mode, since an example hook must stay executable), checked at every start; the code that made it is
 * the compiled code around it, and a build replaces dist/ whole, the copy with it. A scenario file that
 * no longer loads changes the digest, so its error is reported as before, and nothing is kept.
 * Run from the TypeScript sources (tests, tsx) there is no dist/ to keep it in: the records are made.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROJECT_ROOT } from '../scenarios/input.ts';
import type { ListRecords } from './list-records.ts';

interface Kept {
  digest: string;
  records: ListRecords;
}

const compiled = import.meta.url.endsWith('.js');
const KEPT = fileURLToPath(new URL('../list-index.json', import.meta.url));

/** The digest of the inputs as they are now (every file under each, by path, mode and content), and when the newest was last changed. */
function digestOf(inputs: readonly string[]): { digest: string; newest: number } {
  const hash = createHash('sha256');
  let newest = 0;
  for (const input of inputs) {
    const path = join(PROJECT_ROOT, input);
    if (!existsSync(path)) {
      hash.update(`${input}\0absent\0`);
      continue;
    }
    const files = statSync(path).isDirectory() ? readdirSync(path, { recursive: true, encoding: 'utf8' }).sort().map((f) => join(input, f)) : [input];
    for (const file of files) {
      const stat = statSync(join(PROJECT_ROOT, file));
      if (!stat.isFile()) continue;
      hash.update(`${file}\0${stat.mode}\0${stat.size}\0`).update(readFileSync(join(PROJECT_ROOT, file)));
      newest = Math.max(newest, stat.mtimeMs, stat.ctimeMs);
    }
  }
  return { digest: hash.digest('hex'), newest };
}

function readKept(): ListRecords | undefined {
  try {
    const kept = JSON.parse(readFileSync(KEPT, 'utf8')) as Kept;
    return kept.digest === digestOf(kept.records.inputs).digest ? kept.records : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Keep the records for the next start, unless an input changed while they were being made (they may
 * be of the file before the change). An installed jitc's dist/ may be read-only: then each start makes them.
 */
function keep(records: ListRecords, started: number): void {
  const { digest, newest } = digestOf(records.inputs);
  if (newest >= started) return;
  const next = `${KEPT}.${process.pid}`;
  try {
    writeFileSync(next, JSON.stringify({ digest, records } satisfies Kept));
    renameSync(next, KEPT);
  } catch {
    rmSync(next, { force: true });
  }
}

export async function listIndex(): Promise<ListRecords> {
  const kept = compiled ? readKept() : undefined;
  if (kept) return kept;
  const started = Date.now();
  const records = await (await import('./list-records.ts')).listRecords();
  if (compiled) keep(records, started);
  return records;
}
