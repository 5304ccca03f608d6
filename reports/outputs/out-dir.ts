/**
 * The output directory is jitc's own (docs/architecture.md, "Verdict rules"):
 * - a run or merge writes only into a new or empty directory, or one a previous jitc run wrote
 *   (it carries `.jitc-out`, or a jitc manifest.json); never into `/`, the home directory or the
 *   project root;
 * - it writes everything into `.jitc-staging/` first and seals it there, so the seal lists only the
 *   regular files jitc wrote;
 * - it then replaces the previous outputs: deletes only the files the previous manifest lists,
 *   moves the sealed files in, and puts manifest.json in place last. While that happens (a few
 *   renames) the directory has no manifest and `jitc verify` calls it unsealed, never intact; a
 *   crash there leaves `.jitc-commit/`, which the next run into the directory finishes first;
 * - anything else in the directory (a user's notes, a FIFO) is never deleted, read or sealed; an
 *   entry where the run's outputs live that jitc did not write stops the run before it starts.
 * See docs/architecture.md.
 */
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { OUTPUT_NAMES } from '../ledger/ledger.ts';
import { isInsidePath, listEntries, MANIFEST, manifestSchema, SIGNATURE, type Manifest } from '../ledger/manifest.ts';
import { HolderLock } from '../../adapters/holder-lock.ts';
import { BOOKKEEPING, COMMITTING, OUT_LOCK, OUT_MARKER, STAGING } from './out-layout.ts';
import { InputError, PROJECT_ROOT } from '../../scenarios/input.ts';

const OUT_DIR_LOCK = { name: OUT_LOCK, rule: 'one run at a time per output directory' };

const MARKER_TEXT = 'This directory is written by jitc. A run replaces only the files its manifest.json lists; anything else here is left alone and never sealed.\n';
/** Inside .jitc-commit/: the files of the outputs being replaced, for a commit finished after a crash. */
const REPLACES = '.replaces.json';

function lstatOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** The real path of `dir`, or of its nearest existing ancestor with the rest appended. */
function realish(dir: string): string {
  let at = resolve(dir);
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  return join(realpathSync(at), relative(at, resolve(dir)));
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** `/`, the home directory and the project root are never an output directory, whatever they hold. */
function refuseSpecial(dir: string, where: string): void {
  const real = realish(dir);
  const special: [string, string][] = [
    [realOrSelf('/'), 'the root of the file system'],
    [realOrSelf(homedir()), 'the home directory'],
    [realOrSelf(PROJECT_ROOT), 'the project root'],
  ];
  for (const [path, what] of special) {
    if (real === path) throw new InputError(`${where}: ${dir} is ${what}; give a directory of its own (e.g. ${join(dir === '/' ? '/tmp' : dir, 'jitc-out')})`);
  }
}

/** The manifest of a directory's current outputs, when there is one that parses. */
export function readManifest(dir: string): Manifest | undefined {
  const file = join(dir, MANIFEST);
  if (!lstatOrUndefined(file)?.isFile()) return undefined;
  try {
    const parsed = manifestSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** `path` is `dir` or inside it. */
export function isWithin(path: string, dir: string): boolean {
  const a = realish(path);
  const b = realish(dir);
  return a === b || a.startsWith(b.endsWith(sep) ? b : `${b}${sep}`);
}

/**
 * The files jitc may delete when it replaces these outputs: what the manifest lists. A manifest
 * from before the marker existed (no `.jitc-out`) may list files the old seal swept in, so there
 * only the run's own output names count.
 */
function replaceable(dir: string, manifest: Manifest | undefined): string[] {
  if (!manifest) return [];
  const marked = lstatOrUndefined(join(dir, OUT_MARKER))?.isFile() === true;
  return manifest.files.map((f) => f.path).filter((p) => isInsidePath(p) && (marked || OUTPUT_NAMES.includes(p.split('/')[0]!)));
}

/** Entries where the run's outputs go that jitc would have to overwrite but did not write. */
function conflicts(dir: string, replaces: readonly string[]): string[] {
  const mine = new Set([...replaces, MANIFEST, SIGNATURE]);
  return listEntries(dir)
    .filter((e) => OUTPUT_NAMES.includes(e.path.split('/')[0]!) && e.kind !== 'directory' && !mine.has(e.path))
    .map((e) => (e.kind === 'file' ? e.path : `${e.path} (${e.kind})`));
}

/** Each directory on the way to `rel` inside `dir` is a real directory (made if missing), never a link. */
function ensureParents(dir: string, rel: string): void {
  const parts = rel.split('/').slice(0, -1);
  let at = dir;
  for (const part of parts) {
    at = join(at, part);
    const stat = lstatOrUndefined(at);
    if (!stat) mkdirSync(at);
    else if (!stat.isDirectory()) throw new Error(`${at}: not a directory (jitc does not follow links in its output directory)`);
  }
}

/** Whether every directory on the way to `rel` is a real directory: a path through a link is never touched. */
function parentsAreDirectories(dir: string, rel: string): boolean {
  let at = dir;
  for (const part of rel.split('/').slice(0, -1)) {
    at = join(at, part);
    if (!lstatOrUndefined(at)?.isDirectory()) return false;
  }
  return true;
}

/** Removes the listed file (or link) at `rel`; a directory, a missing entry or a path through a link is left alone. */
function removeListed(dir: string, rel: string): void {
  if (!isInsidePath(rel) || !parentsAreDirectories(dir, rel)) return;
  const stat = lstatOrUndefined(join(dir, rel));
  if (stat && !stat.isDirectory()) unlinkSync(join(dir, rel));
}

/** Removes the directories the listed files lived in, deepest first, when nothing else is left in them. */
function pruneEmpty(dir: string, files: readonly string[]): void {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.split('/');
    for (let i = parts.length - 1; i >= 1; i--) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
    if (!parentsAreDirectories(dir, `${d}/x`)) continue;
    try {
      if (lstatOrUndefined(join(dir, d))?.isDirectory() && readdirSync(join(dir, d)).length === 0) rmdirSync(join(dir, d));
    } catch {
      // Not empty or not ours to remove: left.
    }
  }
}

/** Moves one file from the commit directory to its place, never over something jitc did not write. */
function moveInto(from: string, dir: string, rel: string): void {
  const source = join(from, rel);
  const target = join(dir, rel);
  const sourceStat = lstatOrUndefined(source);
  if (!sourceStat) {
    if (lstatOrUndefined(target)?.isFile()) return; // moved before a crash: the commit is being finished
    throw new Error(`${source}: missing from the sealed outputs being moved into place`);
  }
  ensureParents(dir, rel);
  if (lstatOrUndefined(target)) throw new Error(`${target}: exists and jitc did not write it; move it away and run again`);
  renameSync(source, target);
}

/**
 * Moves a sealed `.jitc-commit/` into `dir`: unseal, delete the previous outputs' listed files,
 * move the new files in, manifest.json last. Every step can be repeated, so a commit interrupted by
 * a crash is finished by calling this again.
 */
function finishCommit(dir: string): void {
  const from = join(dir, COMMITTING);
  const next = readManifest(from) ?? (() => {
    throw new Error(`${from}: holds no manifest.json; it is not a sealed run`);
  })();
  const replaces = JSON.parse(readFileSync(join(from, REPLACES), 'utf8')) as string[];
  if (!lstatOrUndefined(join(dir, OUT_MARKER))) writeFileSync(join(dir, OUT_MARKER), MARKER_TEXT);
  // Unsealed first: from here until manifest.json is back, the directory never verifies intact.
  for (const seal of [MANIFEST, SIGNATURE]) removeListed(dir, seal);
  // A path both runs write, already moved in before a crash, is the new file: kept.
  const moved = new Set(next.files.map((f) => f.path).filter((p) => !lstatOrUndefined(join(from, p))));
  const stale = replaces.filter((p) => !moved.has(p));
  for (const rel of stale) removeListed(dir, rel);
  pruneEmpty(dir, stale);
  for (const f of next.files) moveInto(from, dir, f.path);
  if (next.signature) moveInto(from, dir, SIGNATURE);
  moveInto(from, dir, MANIFEST);
  rmSync(from, { recursive: true, force: true });
}

/** A directory made for a run that never got to write: removed, unless someone else put something there. */
function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty: not ours alone any more.
  }
}

export interface OutputDirOptions {
  /** How the user named the directory, for messages: `--out`, `config.yaml: out`. */
  where: string;
  runId: string;
  command: 'run' | 'merge' | 'report' | 'discover';
  log: (line: string) => void;
  /** `jitc report` rebuilds a sealed run in place: the directory must hold one. */
  mustHoldRun?: boolean;
}

/** Checks that need nothing written: the directory may be used at all. Throws InputError. */
export function checkOutputDir(dir: string, where: string, mustHoldRun = false): void {
  refuseSpecial(dir, where);
  const stat = lstatOrUndefined(dir);
  if (!stat) {
    if (mustHoldRun) throw new InputError(`${where}: ${dir}: no such directory`);
    return;
  }
  if (!stat.isDirectory() && !(stat.isSymbolicLink() && lstatOrUndefined(realOrSelf(dir))?.isDirectory())) throw new InputError(`${where}: ${dir} is not a directory`);
  const entries = readdirSync(dir);
  // Only jitc's bookkeeping (a first run into the directory killed before its outputs were in place) counts as empty.
  const ours = lstatOrUndefined(join(dir, OUT_MARKER))?.isFile() === true || readManifest(dir) !== undefined || entries.every((e) => BOOKKEEPING.includes(e));
  if (mustHoldRun && readManifest(dir) === undefined && !existsSync(join(dir, COMMITTING))) throw new InputError(`${where}: ${dir} holds no sealed jitc run (no valid ${MANIFEST})`);
  if (entries.length > 0 && !ours) {
    throw new InputError(`${where}: ${dir} is not empty and is not a jitc output directory (no ${OUT_MARKER}, no jitc ${MANIFEST}); jitc writes only into a new or empty directory or one it wrote before`);
  }
}

/**
 * An output directory claimed for one run: locked, its staging directory ready. Everything the run
 * writes goes to `staging`; `commit()` replaces the previous outputs with it; `abandon()` leaves
 * the directory exactly as it was found (the lock released, a directory it had to create removed).
 */
export class OutputDir {
  readonly dir: string;
  readonly staging: string;
  /** The outputs there when the run started (undefined: none). */
  readonly previous: Manifest | undefined;
  readonly #created: boolean;
  readonly #lock: HolderLock;
  readonly #replaces: string[];
  #done = false;

  private constructor(dir: string, created: boolean, lock: HolderLock, previous: Manifest | undefined, replaces: string[]) {
    this.dir = dir;
    this.staging = join(dir, STAGING);
    this.#created = created;
    this.#lock = lock;
    this.previous = previous;
    this.#replaces = replaces;
  }

  static claim(dir: string, options: OutputDirOptions): OutputDir {
    const { where, log } = options;
    checkOutputDir(dir, where, options.mustHoldRun);
    const created = !existsSync(dir);
    if (created) mkdirSync(dir, { recursive: true });
    let lock: HolderLock | undefined;
    try {
      lock = HolderLock.take(dir, OUT_DIR_LOCK, { runId: options.runId, command: options.command }, where, log);
      if (existsSync(join(dir, COMMITTING))) {
        log(`${where}: ${dir}: the outputs of an earlier run were being moved into place when it stopped; finishing that first`);
        finishCommit(dir);
      }
      const previous = readManifest(dir);
      const replaces = replaceable(dir, previous);
      const foreign = conflicts(dir, replaces);
      if (foreign.length > 0) {
        throw new InputError(`${where}: ${dir}: ${foreign[0]} is where jitc writes its outputs but was not written by jitc (the manifest there does not list it)${foreign.length > 1 ? `, and ${foreign.length - 1} more` : ''}; move it away`);
      }
      // A staging directory left by a run that died is that run's unfinished output: never used.
      rmSync(join(dir, STAGING), { recursive: true, force: true });
      mkdirSync(join(dir, STAGING));
      return new OutputDir(dir, created, lock, previous, replaces);
    } catch (error) {
      lock?.release();
      if (created) removeIfEmpty(dir);
      throw error;
    }
  }

  /** Copies the previous outputs' files under `prefix` (e.g. `history/`) into staging: carried forward. */
  carryForward(prefix: string): void {
    for (const rel of this.#replaces.filter((p) => prefix === '' || p.startsWith(prefix))) {
      if (!parentsAreDirectories(this.dir, rel) || !lstatOrUndefined(join(this.dir, rel))?.isFile()) continue;
      ensureParents(this.staging, rel);
      copyFileSync(join(this.dir, rel), join(this.staging, rel));
    }
  }

  /** Replaces the previous outputs with the sealed staging directory, then releases the lock. */
  commit(): void {
    if (!this.#lock.stillHeld()) throw new Error(`${this.dir}: the lock (${this.#lock.holder.runId}) was taken over by another run; outputs not moved into place`);
    if (!readManifest(this.staging)) throw new Error(`${this.staging}: not sealed; nothing moved into place`);
    writeFileSync(join(this.staging, REPLACES), JSON.stringify(this.#replaces));
    // One rename marks the staging as complete: from here a crash is finished by the next run.
    renameSync(this.staging, join(this.dir, COMMITTING));
    finishCommit(this.dir);
    this.#done = true;
    this.#lock.release();
  }

  /** Leaves the directory as it was found: staging removed, lock released, a directory made for the run removed. */
  abandon(): void {
    if (this.#done) return;
    this.#done = true;
    rmSync(this.staging, { recursive: true, force: true });
    this.#lock.release();
    if (this.#created) removeIfEmpty(this.dir);
  }
}
