/**
 * What a test holds the system's own state to: every file under a configuration directory
 * (/etc/ldap, /etc/ssh) and the system's own daemons, which a jitc target must never touch or be
 * confused with.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `root` with its content hash, mode and mtime: any change shows. */
export function fileTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const stat = statSync(path);
      if (entry.isDirectory()) {
        out[path] = `dir ${stat.mode.toString(8)} ${stat.mtimeMs}`;
        walk(path);
      } else if (entry.isFile()) {
        out[path] = `${createHash('sha256').update(readFileSync(path)).digest('hex')} ${stat.mode.toString(8)} ${stat.mtimeMs}`;
      }
    }
  };
  walk(root);
  return out;
}

/**
 * Running processes named `name` that `ours` does not claim (jitc's own, told by their command
 * line): the system's own daemons. Other test files start jitc servers concurrently, so only the
 * system's count must not change. A zombie waiting for a reaper is not running.
 */
export function systemDaemons(name: string, ours: (cmdline: string) => boolean): number[] {
  let listed: string;
  try {
    listed = execFileSync('pgrep', ['-x', name], { encoding: 'utf8' });
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
  return listed
    .trim()
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return false;
        return !ours(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
      } catch {
        return false; // gone meanwhile
      }
    });
}
