/** "Exactly as it was": every entry under a directory, hidden ones included, for before/after comparisons. */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Files by sha256, every other kind (FIFO, socket, link) by kind alone, never opened. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel))) {
      const path = rel ? `${rel}/${name}` : name;
      const stat = lstatSync(join(dir, path));
      if (stat.isDirectory()) walk(path);
      else out[path] = stat.isFile() ? createHash('sha256').update(readFileSync(join(dir, path))).digest('hex') : 'not a file';
    }
  };
  walk('');
  return out;
}
