/**
 * Where jitc's own files are, and where it keeps what it installs and records locally.
 *
 * The package root is found from this file, whether it runs as source (`adapters/paths.ts`) or
 * compiled (`dist/adapters/paths.js`): the nearest directory above it holding a package.json. So
 * the scenarios, suites and waivers are read from the package, never from `dist/`.
 *
 * The local state (installed targets, pid records of running servers, the install log, the run
 * history) lives in one of two places, and `localState()` is the one place that decides which:
 * - in an installed package (its root under some `node_modules/`), never inside the package: npm
 *   replaces that directory on every install, and it may not be writable. There it is a per-user
 *   cache: `$JITC_CACHE_DIR`, else `$XDG_CACHE_HOME/jitc`, else `~/.cache/jitc`;
 * - anywhere else (a git checkout, a worktree, a copy of the project), inside it (`.targets/`,
 *   `.jitc/`), beside the sources a developer works on, as the quick start and the project's
 *   tests expect.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest directory at or above `from` that holds a package.json. */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json at or above ${from}`);
  }
}

export interface LocalState {
  /** Installed targets, pid records of servers, the install log (`.targets/` in a checkout). */
  targets: string;
  /** The default run history file. */
  history: string;
  /** Which of the places this is and why, for the reader of `jitc targets install`. */
  why: string;
}

/** The per-user cache of an installed package; only absolute settings count, as the XDG spec asks. */
function cacheDir(env: NodeJS.ProcessEnv, home: string): { dir: string; why: string } {
  if (env.JITC_CACHE_DIR) return { dir: resolve(env.JITC_CACHE_DIR), why: 'an installed package: $JITC_CACHE_DIR' };
  if (env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME)) return { dir: join(env.XDG_CACHE_HOME, 'jitc'), why: 'an installed package: $XDG_CACHE_HOME/jitc' };
  return { dir: join(home, '.cache', 'jitc'), why: 'an installed package: ~/.cache/jitc' };
}

export function localState(projectRoot: string, env: NodeJS.ProcessEnv = process.env, home: string = homedir()): LocalState {
  // npm puts every installed package under a node_modules directory; a checkout or a copy is not.
  if (!resolve(projectRoot).split(sep).includes('node_modules')) {
    return { targets: join(projectRoot, '.targets'), history: join(projectRoot, '.jitc', 'history.sqlite'), why: 'a checkout of jitc (not under node_modules): inside it' };
  }
  const cache = cacheDir(env, home);
  // The cache directory is what `.targets/` is in a checkout; the history sits beside the targets.
  return { targets: cache.dir, history: join(cache.dir, 'history.sqlite'), why: cache.why };
}

/** A path under the local targets directory (`.targets/<parts>` in a checkout). */
export function targetsPath(projectRoot: string, ...parts: string[]): string {
  return join(localState(projectRoot).targets, ...parts);
}
