/**
 * Headless Chromium for the report tests: Debian's `chromium` package, installed with apt when it
 * is missing (idempotent), driven by playwright-core — never a browser download. Where it cannot
 * be installed (not root, no apt) the test fails saying what to run; it never passes untested.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Offline and quiet: no first-run pages, no update or sync traffic, no GPU, no QUIC. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function apt(args: string[]): { status: number | null; output: string } {
  const r = spawnSync('apt-get', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, encoding: 'utf8', timeout: 900_000 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export function ensureChromium(log: (line: string) => void): void {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing and this test is not running as root: run "sudo apt-get install -y chromium" (Debian package chromium), then the test again`);
  if (!existsSync('/usr/bin/apt-get')) throw new Error(`${CHROMIUM} is missing and there is no apt-get on this machine: install Chromium so that ${CHROMIUM} exists, then run the test again`);
  log(`installing Debian's chromium with apt-get (${CHROMIUM} is missing)`);
  let install = apt(['install', '-y', '-q', 'chromium']);
  if (install.status !== 0) {
    // A fresh machine may have no package lists yet.
    apt(['update', '-q']);
    install = apt(['install', '-y', '-q', 'chromium']);
  }
  if (install.status !== 0 || !existsSync(CHROMIUM)) {
    throw new Error(`apt-get install -y chromium failed (exit ${install.status}): ${install.output.trim().split('\n').slice(-3).join(' / ')}`);
  }
}

/** A browser with a fresh profile of its own. */
export async function launchChromium(): Promise<{ context: BrowserContext; profile: string }> {
  const profile = mkdtempSync(join(tmpdir(), 'jitc-chromium-profile-'));
  // launchPersistentContext passes the profile as --user-data-dir (launch() refuses that flag).
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1400, height: 1000 } });
  return { context, profile };
}
