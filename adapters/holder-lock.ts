/**
 * One jitc at a time in a directory: a lock file names the run holding it (pid, run id, command,
 * start time, host, and the process's own start time so a recycled pid is not taken for the
 * holder). It dies with its holder: removed when the holder ends, even on process.exit; a lock
 * whose process is gone (SIGKILL, a crash) is stale and the next run takes it over, saying so.
 * An output directory has one writer at a time (a second run is refused); the local targets'
 * software has one installer at a time (a second waits for the first, then finds it installed).
 *
 * Two runs taking over the same stale lock at the same instant could both believe they hold it;
 * the holder re-reads the lock right before it moves its outputs into place (`stillHeld`) and
 * refuses to when the lock names someone else, so two runs never interleave their outputs.
 */
import { closeSync, lstatSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processStart } from './process-start.ts';
import { InputError } from '../scenarios/input.ts';

export interface LockHolder {
  pid: number;
  runId: string;
  command: string;
  startedAt: string;
  host: string;
  /** Boot id and start time of the holder's process (Linux): tells a recycled pid apart. */
  processStart?: string;
}

function isAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true; // another machine's process cannot be checked: never taken over
  if (holder.processStart !== undefined && processStart(holder.pid) !== undefined) return processStart(holder.pid) === holder.processStart;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): LockHolder | undefined {
  try {
    if (!lstatSync(file).isFile()) return undefined;
    const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || typeof value.runId !== 'string') return undefined;
    return { pid: value.pid, runId: value.runId, command: String(value.command ?? 'jitc'), startedAt: String(value.startedAt ?? '?'), host: String(value.host ?? ''), ...(typeof value.processStart === 'string' ? { processStart: value.processStart } : {}) };
  } catch {
    return undefined;
  }
}

export function describeHolder(h: LockHolder): string {
  return `jitc ${h.command}${h.runId ? ` ${h.runId}` : ''} (pid ${h.pid}${h.host && h.host !== hostname() ? ` on ${h.host}` : ''}, started ${h.startedAt})`;
}

/** A lock file: its name in the directory it guards, and what one holder at a time there means, for messages. */
export interface LockKind {
  name: string;
  /** "one run at a time per output directory" */
  rule: string;
}

export class HolderLock {
  readonly #file: string;
  readonly #holder: LockHolder;
  readonly #onExit = (): void => this.release();

  private constructor(file: string, holder: LockHolder) {
    this.#file = file;
    this.#holder = holder;
    process.on('exit', this.#onExit);
  }

  /** Takes the lock of `dir` or throws InputError naming the live holder. */
  static take(dir: string, kind: LockKind, run: { runId: string; command: string }, where: string, log: (line: string) => void): HolderLock {
    const taken = HolderLock.#attempt(dir, kind, run, where, log);
    if (taken instanceof HolderLock) return taken;
    throw new InputError(`${where}: ${dir} is in use by ${describeHolder(taken)}; ${kind.rule}`);
  }

  /**
   * Takes the lock of `dir`, waiting while a live holder has it (saying once whom it waits for).
   * Aborted by `signal`: rejects with its reason, holding nothing.
   */
  static async waitToTake(dir: string, kind: LockKind, run: { runId: string; command: string }, where: string, log: (line: string) => void, signal?: AbortSignal): Promise<HolderLock> {
    let said = false;
    for (;;) {
      signal?.throwIfAborted();
      const taken = HolderLock.#attempt(dir, kind, run, where, log);
      if (taken instanceof HolderLock) return taken;
      if (!said) log(`${where}: waiting for ${describeHolder(taken)} (${kind.rule})`);
      said = true;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** The lock, or the live holder that has it. */
  static #attempt(dir: string, kind: LockKind, run: { runId: string; command: string }, where: string, log: (line: string) => void): HolderLock | LockHolder {
    const file = join(dir, kind.name);
    const start = processStart(process.pid);
    const holder: LockHolder = { pid: process.pid, runId: run.runId, command: run.command, startedAt: new Date().toISOString(), host: hostname(), ...(start ? { processStart: start } : {}) };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o644);
        try {
          writeSync(fd, `${JSON.stringify(holder)}\n`);
        } finally {
          closeSync(fd);
        }
        return new HolderLock(file, holder);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const other = readHolder(file);
      if (other === undefined) {
        // Just created and not yet written, or not a lock at all: never removed on a guess.
        if (attempt < 2) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
          continue;
        }
        throw new InputError(`${where}: ${dir} is locked by ${kind.name}, which does not name a jitc run; remove it if no jitc run is using it`);
      }
      if (isAlive(other)) return other;
      log(`${where}: ${dir}: the lock of ${describeHolder(other)} is stale (that process is gone): taken over`);
      rmSync(file, { force: true });
    }
    throw new InputError(`${where}: ${dir}: could not take the lock (${kind.name}): another run is taking it at the same time`);
  }

  /** The lock file still names this run (nobody took it over meanwhile). */
  stillHeld(): boolean {
    const now = readHolder(this.#file);
    return now !== undefined && now.pid === this.#holder.pid && now.runId === this.#holder.runId;
  }

  get holder(): LockHolder {
    return this.#holder;
  }

  release(): void {
    process.off('exit', this.#onExit);
    if (this.stillHeld()) rmSync(this.#file, { force: true });
  }
}
