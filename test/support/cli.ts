/** Running the real `jitc` command line as a user would, from the project's bin/ shim. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { expect } from 'vitest';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

export const JITC = join(PROJECT_ROOT, 'bin', 'jitc');

/** Test runs keep their history apart from the project's own (.jitc/history.sqlite). */
const TEST_HISTORY = join(mkdtempSync(join(tmpdir(), 'jitc-test-history-')), 'history.sqlite');

function withTestHistory(args: string[]): string[] {
  const records = args[0] === 'run' || args[0] === 'merge';
  return records && !args.includes('--history') ? [...args, '--history', TEST_HISTORY] : args;
}

export interface CliResult {
  /** Process id the command ran as (the shim execs node, so it is jitc's own). */
  pid: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

export function jitc(args: string[], env: NodeJS.ProcessEnv = {}, cwd = PROJECT_ROOT): CliResult {
  const r = spawnSync(JITC, withTestHistory(args), { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 300_000 });
  return { pid: r.pid ?? 0, code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** How long after the command exits its output may still be arriving. */
const OUTPUT_GRACE_MS = 2000;

/** Start jitc in the background; resolves with its output once it exits. */
export function jitcAsync(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliResult>; output: () => string } {
  const child = spawn(JITC, withTestHistory(args), { cwd: PROJECT_ROOT, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'exit' may come before the last of the output has been read: the result waits for both streams
  // to end, or a moment, for a server the command started may hold them open after it exits.
  const drained = (stream: Readable): Promise<void> => new Promise((resolve) => (stream.readableEnded ? resolve() : stream.once('end', resolve)));
  const done = new Promise<CliResult>((resolve) =>
    child.on('exit', (code) => {
      void Promise.race([Promise.all([drained(child.stdout), drained(child.stderr)]), new Promise((r) => setTimeout(r, OUTPUT_GRACE_MS))]).then(() =>
        resolve({ pid: child.pid ?? 0, code, stdout, stderr }),
      );
    }),
  );
  return { child, done, output: () => stdout + stderr };
}

/** Refused as bad input: exit 2, one line on stderr saying what and where, and no verdict printed. */
export function expectRefused(r: CliResult, line: RegExp): void {
  expect(r.code, r.stdout + r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(line);
  expect(r.stdout).not.toMatch(/CONFORMANT/);
}
