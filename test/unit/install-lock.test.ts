/**
 * One install of the local targets at a time: a second jitc started while the first installs
 * (two terminals on a fresh clone, the tests beside a run) waits for it, saying whom it waits for,
 * instead of downloading to the same file; a lock whose installer is gone is taken over, and an
 * interrupt while waiting stops the wait without touching the other's lock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { installRequirements, InstallInterrupted } from '../../adapters/install.ts';
import { processStart } from '../../adapters/process-start.ts';

/** A project whose install lock names a live process (`sleep`), as a running installer's would. */
async function heldBy(seconds: number): Promise<{ root: string; lock: string; holder: ChildProcess; gone: Promise<unknown> }> {
  const root = mkdtempSync(join(tmpdir(), 'jitc-install-lock-'));
  mkdirSync(join(root, '.targets'));
  const lock = join(root, '.targets', '.jitc-install.lock');
  const holder = spawn('sleep', [String(seconds)]);
  await new Promise((resolve) => holder.once('spawn', resolve));
  const pid = holder.pid!;
  writeFileSync(lock, JSON.stringify({ pid, runId: '', command: 'targets install', startedAt: new Date().toISOString(), host: hostname(), processStart: processStart(pid) }));
  return { root, lock, holder, gone: new Promise((resolve) => holder.once('exit', resolve)) };
}

describe('install lock', () => {
  test('the second installer waits while the first lives, says whom it waits for, then takes the lock and releases it', async () => {
    const { root, lock, holder, gone } = await heldBy(1.5);
    const lines: string[] = [];
    let done = false;
    const install = installRequirements(root, [], (l) => lines.push(l)).then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(done).toBe(false);
    expect(lines).toEqual([`local targets: waiting for jitc targets install (pid ${holder.pid}, started ${JSON.parse(readFileSync(lock, 'utf8')).startedAt}) (one install of the local targets at a time)`]);
    await gone;
    await install;
    expect(lines.at(-1)).toMatch(/the lock of jitc targets install \(pid \d+.*is stale \(that process is gone\): taken over$/);
    expect(existsSync(lock)).toBe(false);
  });

  test('interrupted while waiting: InstallInterrupted, and the other installer keeps its lock', async () => {
    const { root, lock, holder } = await heldBy(30);
    const before = readFileSync(lock, 'utf8');
    const abort = new AbortController();
    const install = installRequirements(root, [], () => undefined, abort.signal);
    setTimeout(() => abort.abort('SIGINT'), 300);
    await expect(install).rejects.toBeInstanceOf(InstallInterrupted);
    expect(readFileSync(lock, 'utf8')).toBe(before);
    holder.kill();
  });
});
