/**
 * Where a run will write (--out, the config's out:, --metrics), checked before any target starts:
 * a path that cannot be written is bad input (one line, exit 2), not a crash after the targets
 * were started or after the whole run.
 */
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { isJitcOpenMetrics } from '../reports/writers/openmetrics.ts';
import { InputError } from '../scenarios/input.ts';

/** The nearest part of `path` that exists: what decides whether it can be created. */
function nearestExisting(path: string): string {
  let at = path;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  return at;
}

/** A directory that is there, or can be made: nothing on its way is a file. */
export function outputDir(dir: string, where: string): string {
  const existing = nearestExisting(dir);
  if (!statSync(existing).isDirectory()) {
    throw new InputError(`${where}: ${dir} ${existing === dir ? 'is a file, not a directory' : `cannot be made: ${existing} is a file`}`);
  }
  return dir;
}

/** A file to (over)write: its directory exists, and it is not itself a directory. */
export function outputFile(file: string, where: string): string {
  if (!existsSync(dirname(file)) || !statSync(dirname(file)).isDirectory()) throw new InputError(`${where}: ${file}: directory ${dirname(file)} does not exist`);
  if (existsSync(file) && statSync(file).isDirectory()) throw new InputError(`${where}: ${file} is a directory, not a file`);
  return file;
}

/** Larger than any metrics file jitc writes: a bigger file is someone else's, and is not read whole. */
const METRICS_MAX_BYTES = 16 * 1024 * 1024;

/**
 * The --metrics file: writable (as outputFile), and when it exists, a regular file holding jitc's
 * own OpenMetrics output. Another exporter's file, a link or a FIFO is never overwritten or read.
 */
export function metricsFile(file: string, where: string): string {
  outputFile(file, where);
  if (!existsSync(file) && !isLink(file)) return file;
  const stat = lstatSync(file);
  if (!stat.isFile()) throw new InputError(`${where}: ${file} is not a regular file (a link, FIFO or device is never written through)`);
  const text = stat.size <= METRICS_MAX_BYTES ? readFileSync(file, 'utf8') : '';
  if (!isJitcOpenMetrics(text)) throw new InputError(`${where}: ${file} exists and is not jitc's OpenMetrics output; jitc never overwrites a file it did not write (choose a new file)`);
  return file;
}

function isLink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}
