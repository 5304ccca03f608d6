/**
 * Installing a package that brings a system service (slapd, openssh-server, postgresql) must not
 * start the system's own daemon: Debian's policy-rc.d forbids it while the install runs. jitc
 * writes one only where there is none, removes only its own, and never replaces another's: that
 * one must forbid the starts itself, or the install is refused before anything runs.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { withServiceStartsForbidden } from '../../adapters/install.ts';

const dir = mkdtempSync(join(tmpdir(), 'jitc-policy-rc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the hook answers a maintainer script asking to start `daemon`, as invoke-rc.d asks it. */
async function answers(hook: string, daemon: string): Promise<number> {
  const { execFileSync } = await import('node:child_process');
  try {
    execFileSync(hook, [daemon, 'start']);
    return 0;
  } catch (error) {
    return (error as { status: number }).status;
  }
}

/** What the hook answers a start of `daemon` while an install runs under it, and that it is gone after. */
async function answerDuringInstall(hook: string, daemon: string): Promise<number> {
  let during = -1;
  await withServiceStartsForbidden([daemon], async () => {
    during = await answers(hook, daemon);
  }, hook);
  expect(existsSync(hook)).toBe(false);
  return during;
}

describe('service starts during an install', () => {
  test('with no policy-rc.d: one forbidding every start is there while the install runs, and gone after', async () => {
    expect(await answerDuringInstall(join(dir, 'absent'), 'slapd')).toBe(101);
  });

  test('it is removed even when the install fails', async () => {
    const hook = join(dir, 'failing');
    await expect(withServiceStartsForbidden(['ssh'], () => Promise.reject(new Error('apt-get failed')), hook)).rejects.toThrow('apt-get failed');
    expect(existsSync(hook)).toBe(false);
  });

  test("another's policy-rc.d that forbids the starts is used as it is, and left exactly as it was", async () => {
    const hook = join(dir, 'theirs-forbids');
    const content = '#!/bin/sh\n# the image builder\'s\nexit 101\n';
    writeFileSync(hook, content);
    chmodSync(hook, 0o755);
    const before = statSync(hook).mtimeMs;
    let ran = false;
    await withServiceStartsForbidden(['postgresql'], async () => {
      ran = true;
    }, hook);
    expect(ran).toBe(true);
    expect(readFileSync(hook, 'utf8')).toBe(content);
    expect(statSync(hook).mtimeMs).toBe(before);
  });

  test("another's policy-rc.d that lets a service start: refused in one line naming it, nothing installed, the file untouched", async () => {
    const hook = join(dir, 'theirs-allows');
    const content = '#!/bin/sh\nexit 0\n';
    writeFileSync(hook, content);
    chmodSync(hook, 0o755);
    let ran = false;
    const attempt = withServiceStartsForbidden(['ssh'], async () => {
      ran = true;
    }, hook);
    await expect(attempt).rejects.toThrow(new RegExp(`^${hook} lets ssh start \\(it answers 0, not 101\\)`));
    await attempt.catch((error: Error) => expect(error.message).not.toContain('\n'));
    expect(ran).toBe(false);
    expect(readFileSync(hook, 'utf8')).toBe(content);
  });

  test('one left by a killed install of jitc\'s own is jitc\'s: used, and removed after', async () => {
    const hook = join(dir, 'left');
    await withServiceStartsForbidden([], async () => {
      // A killed install leaves the hook behind: copy what is there now to stand for it.
      writeFileSync(join(dir, 'copy'), readFileSync(hook));
    }, hook);
    writeFileSync(hook, readFileSync(join(dir, 'copy')));
    expect(await answerDuringInstall(hook, 'slapd')).toBe(101);
  });
});
